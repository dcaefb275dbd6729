"""Faults during a run, with a real Celery worker and a real Locust child: the worker killed,
the target down, slow or resetting, Redis restarted, PostgreSQL connections cut, the database's
write lock held by another writer.

Every run here still happens at most once and always ends; nothing measured and stored is lost.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
from django.db import connection, transaction

from runs.engine.reaper import runs_reap_stale, runs_requeue_lost
from runs.models import EndpointSummary, ErrorGroup, Run, RunSecond
from runs.services.runs import plan_snapshot, run_create
from runs.tasks import execute_run

from ..conftest import BASE_DIR, start_worker
from ..engine.helpers import target_count, wait_for

pytestmark = pytest.mark.slow
ENDED = (Run.Status.FINISHED, Run.Status.FAILED, Run.Status.CANCELLED)


def wait_ended(run: Run, timeout: float = 20) -> Run:
    wait_for(lambda: Run.objects.get(pk=run.pk).status in ENDED, timeout=timeout, what=f"run {run.pk} to end")
    run.refresh_from_db()
    return run


def wait_stored(run: Run, n: int, timeout: float = 15) -> None:
    wait_for(lambda: Run.objects.get(pk=run.pk).last_t >= n - 1, timeout=timeout, what=f"{n} stored seconds")


def stored_ts(run: Run) -> list[int]:
    return list(RunSecond.objects.filter(run=run).order_by("t").values_list("t", flat=True))


def queued_run(plan: Any) -> Run:
    snapshot = plan_snapshot(plan=plan)
    return Run.objects.create(
        team=plan.team,
        plan=plan,
        plan_name=plan.name,
        snapshot=snapshot,
        planned_seconds=snapshot["profile"]["duration"],
    )


def engine_children(pid: int) -> list[psutil.Process]:
    return [
        p
        for p in psutil.Process(pid).children(recursive=True)
        if "runs.core.engine.child" in " ".join(p.cmdline())
    ]


@contextlib.contextmanager
def demo_target_process() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A demo target in a process of its own, so killing it drops every open connection too."""
    code = (
        "import time; from runs.core.demo_target import start_demo_target; "
        "t = start_demo_target(); print(t.url, flush=True); time.sleep(120)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=str(BASE_DIR), stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip(), proc
    finally:
        proc.kill()
        proc.wait(timeout=5)


# -- the worker dies -----------------------------------------------------------------------------------
def test_a_worker_killed_with_sigkill_fails_its_run_within_the_reaper_threshold_and_never_reruns_it(
    transactional_db: None, settings: Any, target_server: str, make_plan: Any
) -> None:
    settings.SCALETEST_REAP_AFTER_SECONDS = 5
    queue = os.environ["SCALETEST_QUEUE"] + "-sigkill"
    env = {"SCALETEST_REAP_AFTER_SECONDS": "5"}
    worker = start_worker(queue=queue, concurrency=1, extra_env=env)
    plan = make_plan(target_server, "/delay", query={"ms": "50"}, params={"users": 2, "duration": 60})
    run = queued_run(plan)
    try:
        execute_run.apply_async(args=[run.pk], queue=queue)
        wait_stored(run, 2)
        children = wait_for(lambda: engine_children(worker.pid), timeout=5, what="the Locust child")

        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool; the child has its own group
        killed = time.monotonic()
        worker.proc.wait(timeout=5)
        before = stored_ts(run)

        # PR_SET_PDEATHSIG: the kernel kills the Locust child with its parent.
        wait_for(
            lambda: not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children),
            timeout=3,
            what="the Locust child to die",
        )
        served = target_count(target_server, "/delay")
        time.sleep(1.0)
        assert target_count(target_server, "/delay") == served, "the target still receives load"

        # The reaper (beat runs it every 30 s; here every 0.5 s) fails the silent run.
        while Run.objects.get(pk=run.pk).status == Run.Status.RUNNING:
            assert time.monotonic() - killed < 5 + 3, "not reaped within the threshold"
            runs_reap_stale()
            time.sleep(0.5)
        run.refresh_from_db()
        assert run.status == Run.Status.FAILED
        assert run.error_message.startswith("The worker was lost")
        # Every second stored before the kill is still there, without gaps, and summarised.
        assert stored_ts(run) == before == list(range(len(before)))
        assert len(before) >= 2
        per_second = RunSecond.objects.filter(run=run).values_list("requests", flat=True)
        assert run.total_requests == sum(per_second) > 0
        assert EndpointSummary.objects.get(run=run).requests == run.total_requests

        # At most once: the message was acked, so a new worker on the queue does not run it again.
        worker = start_worker(queue=queue, concurrency=1, extra_env=env)
        time.sleep(1.0)
        assert target_count(target_server, "/delay") == served
        assert Run.objects.get(pk=run.pk).status == Run.Status.FAILED
    finally:
        worker.stop(timeout=5)


# -- the target misbehaves ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "query", "error_class"),
    [
        # Slower than the target's 0.5 s timeout (geventhttpclient calls it RetriesExceeded).
        ("/delay", {"ms": "1500"}, ("Timeout", "RetriesExceeded")),
        ("/reset", {}, ("Connection", "RetriesExceeded")),  # RST instead of an answer
    ],
)
def test_a_slow_or_resetting_target_gives_failures_and_the_run_completes(
    transactional_db: None,
    live_worker: Any,
    target_server: str,
    make_plan: Any,
    path: str,
    query: dict[str, str],
    error_class: tuple[str, ...],
) -> None:
    plan = make_plan(
        target_server, path, query=query, params={"users": 2, "duration": 3}, timeout_seconds=0.5
    )

    run = wait_ended(run_create(plan=plan), timeout=15)

    assert run.status == Run.Status.FINISHED, run.error_message
    assert run.total_requests == run.total_failures > 0
    classes = set(ErrorGroup.objects.filter(run=run).values_list("error_class", flat=True))
    assert classes and all(any(e.lower() in c.lower() for e in error_class) for c in classes), classes


def test_a_target_that_goes_down_mid_run_gives_failures_and_the_run_completes(
    transactional_db: None, live_worker: Any, make_plan: Any
) -> None:
    with demo_target_process() as (url, proc):
        plan = make_plan(
            url, "/delay", query={"ms": "20"}, params={"users": 2, "duration": 5}, timeout_seconds=1
        )
        run = run_create(plan=plan)
        wait_stored(run, 2)
        proc.kill()  # down, open connections and all
        run = wait_ended(run, timeout=15)

    assert run.status == Run.Status.FINISHED, run.error_message
    seconds = list(RunSecond.objects.filter(run=run).order_by("t"))
    assert seconds[0].failures == 0 and seconds[0].requests > 0
    assert run.total_failures > 0
    assert ErrorGroup.objects.filter(run=run).exists()
    assert [s.t for s in seconds] == list(range(len(seconds)))


# -- Redis restarts -------------------------------------------------------------------------------------
@dataclass
class PrivateRedis:
    """A Redis server of this test's own: restarting the shared one on 127.0.0.1:6379 would
    break every other suite using it at that moment (the other database's pass, colleagues')."""

    data_dir: Path
    port: int = field(default_factory=lambda: _free_port())
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.data_dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.up, timeout=10, what="Redis to start")

    def up(self) -> bool:
        ping = subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True)
        return ping.stdout.strip() == "PONG"

    def shutdown(self) -> None:
        subprocess.run(
            ["redis-cli", "-p", str(self.port), "shutdown", "nosave"], capture_output=True, timeout=10
        )
        if self.proc is not None:
            self.proc.wait(timeout=10)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def celery_broker(url: str) -> Iterator[None]:
    """Send this process's tasks (run_create, the reaper's requeue) to ``url`` for a while."""
    from scaletest_site.celery import app

    def use(broker_url: str) -> None:
        app.conf.broker_url = broker_url
        app._pool = None  # the connection and producer pools are made from the URL once
        app.amqp._producer_pool = None

    old = app.conf.broker_url
    use(url)
    try:
        yield
    finally:
        use(old)


def test_a_redis_restart_mid_run_leaves_nothing_stuck_and_queued_runs_start_when_it_is_back(
    transactional_db: None, target_server: str, make_plan: Any, tmp_path: Path
) -> None:
    redis = PrivateRedis(tmp_path)
    redis.start()
    worker = None
    try:
        # The session's queue name, on this Redis: only this worker reads it.
        worker = start_worker(queue=os.environ["SCALETEST_QUEUE"], extra_env={"REDIS_URL": redis.url})
        running_plan = make_plan(
            target_server, "/delay", query={"ms": "50"}, params={"users": 2, "duration": 6}
        )
        later_plan = make_plan(
            target_server, "/delay", query={"ms": "50"}, params={"users": 1, "duration": 2}, name="Later"
        )
        with celery_broker(redis.url):
            before = target_count(target_server, "/delay")
            running = run_create(plan=running_plan)
            wait_stored(running, 2)
            redis.shutdown()
            assert not redis.up()
            # Queued while the broker is down: the page does not fail, the run waits as queued.
            later = run_create(plan=later_plan)
            assert Run.objects.get(pk=later.pk).status == Run.Status.QUEUED
            redis.start()

            # The run in progress never needed the broker: it ends normally.
            running = wait_ended(running, timeout=15)
            assert running.status == Run.Status.FINISHED, running.error_message
            assert stored_ts(running) == list(range(running.last_t + 1))
            # Exactly what the target served, nothing lost or counted twice (the later run
            # cannot have started: its message died with Redis).
            assert Run.objects.get(pk=later.pk).status == Run.Status.QUEUED
            served = target_count(target_server, "/delay")
            assert running.total_requests == served - before
            before = served

            # Its message died with Redis (no persistence); the reaper's sweep sends it again and
            # the worker, reconnected, runs it.
            requeued, gave_up = runs_requeue_lost(requeue_after_seconds=0)
            assert later.pk in requeued and gave_up == []
            later = wait_ended(later, timeout=20)
        assert later.status == Run.Status.FINISHED, later.error_message
        assert later.total_requests == target_count(target_server, "/delay") - before > 0
    finally:
        if worker is not None:
            worker.stop(timeout=10)
        redis.kill()


# -- the database in trouble ----------------------------------------------------------------------
@pytest.mark.postgres_only(
    reason="cuts the worker's server connections with pg_terminate_backend; SQLite has no server "
    "connection to cut, its counterpart is "
    "test_a_writer_holding_the_database_lock_mid_run_delays_but_loses_nothing"
)
def test_cut_database_connections_mid_run_lose_no_stored_results(
    transactional_db: None, live_worker: Any, target_server: str, make_plan: Any
) -> None:
    plan = make_plan(target_server, "/delay", query={"ms": "50"}, params={"users": 2, "duration": 6})
    before = target_count(target_server, "/delay")
    run = run_create(plan=plan)
    wait_stored(run, 2)

    def cut(terminate: bool) -> int:
        with connection.cursor() as cursor:
            what = "pg_terminate_backend(pid)" if terminate else "pid"
            cursor.execute(
                f"SELECT count({what}) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return int(cursor.fetchone()[0])

    for _ in range(2):  # twice: the second cut hits the connection the worker reopened
        wait_for(lambda: cut(False) >= 1, timeout=5, what="the worker's database connection")
        assert cut(True) >= 1
        time.sleep(1.0)

    run = wait_ended(run, timeout=20)
    assert run.status == Run.Status.FINISHED, run.error_message
    # The cuts really hit the run's worker, which reconnected.
    assert f"run {run.pk}: heartbeat failed; reconnecting" in live_worker.log_tail(500) or (
        f"run {run.pk}: storing" in live_worker.log_tail(500)
    )
    ts = stored_ts(run)
    assert ts == list(range(len(ts))) and len(ts) >= 6
    # Buffered through the outage and written after reconnecting: the target's count matches.
    assert run.total_requests == target_count(target_server, "/delay") - before
    assert EndpointSummary.objects.get(run=run).requests == run.total_requests


def test_a_queued_run_whose_message_was_lost_is_sent_again_and_runs_once(
    transactional_db: None, live_worker: Any, target_server: str, make_plan: Any
) -> None:
    plan = make_plan(target_server, "/delay", query={"ms": "50"}, params={"users": 1, "duration": 2})
    before = target_count(target_server, "/delay")
    lost = queued_run(plan)  # created, but its message never reached a worker
    assert runs_requeue_lost(requeue_after_seconds=60) == ([], [])  # too young to judge
    requeued, _ = runs_requeue_lost(requeue_after_seconds=0)
    assert requeued == [lost.pk]
    execute_run.delay(lost.pk)  # and a late duplicate of the original message

    lost = wait_ended(lost)
    time.sleep(0.5)
    assert lost.status == Run.Status.FINISHED
    assert target_count(target_server, "/delay") - before == lost.total_requests  # one run's worth


def _hold_write_lock(seconds: float, held: threading.Event) -> None:
    """Be another writer holding the database's write lock for ``seconds`` (own connection)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # Readers (the live page) go on; every writer of these tables waits.
                cursor.execute("LOCK TABLE runs_run, runs_runsecond, runs_endpointsecond IN EXCLUSIVE MODE")
            else:
                # SQLite has one write lock for the whole file: take it (settings begin
                # transactions IMMEDIATE; say it here too, with a write).
                cursor.execute("UPDATE runs_team SET name = name")
            held.set()
            time.sleep(seconds)
    finally:
        held.set()
        connection.close()


def test_a_writer_holding_the_database_lock_mid_run_delays_but_loses_nothing(
    transactional_db: None, live_worker: Any, target_server: str, make_plan: Any
) -> None:
    # On SQLite, what a newcomer meets: a second process (a migration, a long page write, the
    # other run) owns the file's write lock for seconds. The worker waits for it (busy
    # timeout): no "database is locked", no second lost, nothing stuck in running.
    plan = make_plan(target_server, "/delay", query={"ms": "50"}, params={"users": 2, "duration": 8})
    before = target_count(target_server, "/delay")
    mark = live_worker.lines
    run = run_create(plan=plan)
    wait_stored(run, 2)

    held = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(5.0, held), daemon=True)
    holder.start()
    assert held.wait(10)
    stored_when_locked = Run.objects.get(pk=run.pk).last_t
    time.sleep(4.0)
    # Reads go on while the lock is held, and the lock really keeps the worker from storing.
    assert Run.objects.get(pk=run.pk).last_t == stored_when_locked
    holder.join(10)

    run = wait_ended(run, timeout=30)
    assert run.status == Run.Status.FINISHED, run.error_message
    ts = stored_ts(run)
    assert ts == list(range(len(ts))) and len(ts) >= 8
    assert run.last_t > stored_when_locked
    # Everything the target served while the worker waited was stored afterwards.
    assert run.total_requests == target_count(target_server, "/delay") - before
    assert EndpointSummary.objects.get(run=run).requests == run.total_requests
    logged = "\n".join(live_worker.log_since(mark))
    assert "database is locked" not in logged and "ERROR" not in logged and "Traceback" not in logged, logged
