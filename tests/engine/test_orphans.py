"""Outside `manage.py up` too, nothing a worker or beat starts outlives it.

A Celery worker started the way a single-host systemd unit often runs it (`worker -B`: the pool
plus an embedded beat; compose runs beat as a service of its own), with a run in flight. A SIGKILL
of its main process alone (no process-group kill, no cleanup code) must take every process it
started with it: the pool processes, the embedded beat and the run's Locust child. Then a second
`celery beat` on a data dir whose beat is running refuses to start and leaves the first alone.
`up` itself is tests/test_up_supervision.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from runs.core.lifetime import beat_lock_holder
from runs.engine.reaper import runs_reap_stale
from runs.models import Run, RunSecond
from runs.services.runs import plan_snapshot
from runs.tasks import execute_run
from tests.proctree import describe, kill_all, tree, wait_for, wait_gone, with_env

from ..conftest import BASE_DIR, start_worker
from .helpers import target_count

pytestmark = pytest.mark.slow


def _queued_run(plan: Any) -> Run:
    snapshot = plan_snapshot(plan=plan)
    return Run.objects.create(
        team=plan.team,
        plan=plan,
        plan_name=plan.name,
        snapshot=snapshot,
        planned_seconds=snapshot["profile"]["duration"],
    )


def test_a_worker_killed_with_sigkill_takes_its_pool_beat_and_locust_child_with_it(
    transactional_db: None, target_server: str, make_plan: Any, tmp_path: Path
) -> None:
    queue = os.environ["SCALETEST_QUEUE"] + "-orphans"
    # Its own data dir: the beat lock and schedule of this worker only (the database is the test one).
    worker = start_worker(
        queue=queue,
        concurrency=1,
        extra_env={"SCALETEST_DATA_DIR": str(tmp_path)},
        extra_args=["-B", "-s", str(tmp_path / "celerybeat-schedule")],
    )
    try:
        plan = make_plan(target_server, "/delay", query={"ms": "50"}, params={"users": 2, "duration": 60})
        run = _queued_run(plan)
        execute_run.apply_async(args=[run.pk], queue=queue)
        wait_for(lambda: Run.objects.get(pk=run.pk).last_t >= 1, 30, "two stored seconds")

        main = psutil.Process(worker.pid)
        beat = wait_for(lambda: beat_lock_holder(tmp_path / "beat.lock"), 30, "the embedded beat's lock")
        family = tree(main)
        children = {p.pid for p in main.children()}
        locust = [p for p in family if "runs.core.engine.child" in " ".join(p.cmdline())]
        assert beat in children, describe(family)
        assert locust and len(children) == 2, describe(family)  # one pool process and beat

        os.kill(worker.pid, signal.SIGKILL)  # the main process only: its children are left to the kernel
        worker.proc.wait(timeout=10)
        wait_gone(family, 10, "the worker's pool, beat and Locust child to die with it")
        left = with_env("SCALETEST_DATA_DIR", str(tmp_path))
        assert not left, describe(left)
        served = target_count(target_server, "/delay")
        time.sleep(1.0)
        assert target_count(target_server, "/delay") == served, "the target still receives load"

        # The run ends failed with what it measured (the reaper; tests/safety/test_faults.py in depth).
        time.sleep(1.5)
        assert run.pk in runs_reap_stale(stale_after_seconds=1)
        run.refresh_from_db()
        assert run.status == Run.Status.FAILED
        stored = RunSecond.objects.filter(run=run).values_list("requests", flat=True)
        assert run.total_requests == sum(stored) > 0
    finally:
        worker.stop(timeout=5)
        kill_all(with_env("SCALETEST_DATA_DIR", str(tmp_path)))  # never leave orphans behind


def test_a_second_beat_on_the_same_data_dir_refuses_to_start_and_leaves_the_first_be(tmp_path: Path) -> None:
    env = {**os.environ, "SCALETEST_DATA_DIR": str(tmp_path), "SCALETEST_NO_BOOTSTRAP": "1"}
    beat = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "scaletest_site",
        "beat",
        "-l",
        "info",
        "-s",
        str(tmp_path / "celerybeat-schedule"),
    ]
    lock = tmp_path / "beat.lock"
    with (tmp_path / "first.log").open("wb") as log:
        first = subprocess.Popen(beat, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: beat_lock_holder(lock) == first.pid, 60, "the first beat to take the lock")
        second = subprocess.run(beat, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 1, second.stdout + second.stderr
        assert f"another Celery beat (pid {first.pid}) already runs on this data dir" in second.stderr
        assert first.poll() is None and beat_lock_holder(lock) == first.pid
    finally:
        first.terminate()
        first.wait(timeout=30)
