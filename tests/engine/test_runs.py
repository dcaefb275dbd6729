"""Runs end to end: run_create → real Celery worker → real Locust child → PostgreSQL.

Also the parent on its own (time cap), double delivery, a crashing child, worker shutdown and
the reaper. The demo target's own request counts are the yardstick for "nothing lost".
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import time
from typing import Any

import psutil
import pytest
from django.core.management import call_command
from django.utils import timezone

from runs.core.engine.protocol import EndpointSecond as EndpointMsg
from runs.core.engine.protocol import SecondMessage
from runs.core.histogram import Histogram
from runs.engine.reaper import runs_reap_stale
from runs.engine.runner import SHUTDOWN_MESSAGE, run_execute
from runs.models import EndpointSecond, EndpointSummary, ErrorGroup, Run, RunSecond
from runs.services.results import results_ingest
from runs.services.runs import plan_snapshot, run_cancel, run_claim, run_create
from runs.tasks import execute_run

from ..conftest import start_worker
from .helpers import target_count, wait_for

ENDED = (Run.Status.FINISHED, Run.Status.FAILED, Run.Status.CANCELLED)


def _wait_ended(run: Run, timeout: float = 30) -> Run:
    wait_for(lambda: Run.objects.get(pk=run.pk).status in ENDED, timeout=timeout, what=f"run {run.pk} to end")
    run.refresh_from_db()
    return run


def _wait_seconds(run: Run, n: int, timeout: float = 20) -> None:
    wait_for(lambda: Run.objects.get(pk=run.pk).last_t >= n - 1, timeout=timeout, what=f"{n} stored seconds")


def _queued_run(plan: Any) -> Run:
    """A queued run that no worker was told about (run_create would enqueue it)."""
    snapshot = plan_snapshot(plan=plan)
    return Run.objects.create(
        team=plan.team,
        plan=plan,
        plan_name=plan.name,
        snapshot=snapshot,
        planned_seconds=snapshot["profile"]["duration"],
    )


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def _engine_children(pid: int) -> list[psutil.Process]:
    return [
        p
        for p in psutil.Process(pid).children(recursive=True)
        if "runs.core.engine.child" in " ".join(p.cmdline())
    ]


@pytest.mark.slow
def test_a_run_measures_1049_ms_exactly_and_counts_what_the_target_served(
    transactional_db: None, live_worker: Any, target_server: str, make_plan: Any, alice: Any
) -> None:
    plan = make_plan(
        target_server, "/delay", query={"ms": "1049"}, params={"users": 4, "duration": 4}, owner=alice
    )
    before = target_count(target_server, "/delay")

    run = _wait_ended(run_create(plan=plan, user=alice))

    assert run.status == Run.Status.FINISHED, run.error_message
    assert run.error_message == ""
    assert run.locust_version == "2.47.0"
    assert run.generator_host
    assert run.total_requests == target_count(target_server, "/delay") - before
    assert 12 <= run.total_requests <= 20  # 4 users x 4 s / 1.049 s
    assert run.total_failures == 0
    # Locust's own statistics would say 1100 ms here.
    assert run.p50_ms == pytest.approx(1049, rel=0.01)
    seconds = list(RunSecond.objects.filter(run=run).order_by("t"))
    assert [s.t for s in seconds] == list(range(len(seconds)))
    assert 4 <= len(seconds) <= 6
    assert seconds[0].users == 4
    assert sum(s.requests for s in seconds) == run.total_requests
    assert EndpointSecond.objects.filter(run=run, method="GET", name="/delay").count() >= 3
    summary = EndpointSummary.objects.get(run=run)
    assert summary.requests == run.total_requests
    assert summary.p50_ms == pytest.approx(1049, rel=0.01)
    assert run.status == "finished" and run.current_users == 0 and run.finished_at


@pytest.mark.slow
def test_a_cancel_stops_the_load_within_5_seconds_and_keeps_the_seconds_so_far(
    transactional_db: None, live_worker: Any, target_server: str, make_plan: Any
) -> None:
    plan = make_plan(target_server, "/delay", query={"ms": "200"}, params={"users": 5, "duration": 60})
    before = target_count(target_server, "/delay")
    run = run_create(plan=plan)
    _wait_seconds(run, 2)

    asked = time.monotonic()
    run_cancel(run=run)
    run = _wait_ended(run, timeout=10)
    assert time.monotonic() - asked < 5.0
    assert run.status == Run.Status.CANCELLED
    served = target_count(target_server, "/delay")
    time.sleep(1.0)
    assert target_count(target_server, "/delay") == served  # no load after the cancel
    assert run.total_requests == served - before  # and nothing measured was lost
    assert RunSecond.objects.filter(run=run).count() >= 2


@pytest.mark.slow
def test_a_target_that_refuses_connections_ends_finished_with_the_error_recorded(
    transactional_db: None, live_worker: Any, make_plan: Any
) -> None:
    plan = make_plan(_closed_port_url(), "/", params={"users": 2, "duration": 3})

    run = _wait_ended(run_create(plan=plan))

    assert run.status == Run.Status.FINISHED, run.error_message
    assert run.total_requests > 0
    assert run.total_failures == run.total_requests
    group = ErrorGroup.objects.get(run=run)
    assert group.error_class == "ConnectionRefusedError"
    assert "refused" in group.message.lower()
    assert group.count == run.total_requests


@pytest.mark.slow
def test_server_errors_are_failures(
    transactional_db: None, live_worker: Any, target_server: str, make_plan: Any
) -> None:
    plan = make_plan(
        target_server, "/status/503", params={"users": 2, "duration": 3}, expected_statuses="200-299"
    )

    run = _wait_ended(run_create(plan=plan))

    assert run.status == Run.Status.FINISHED
    assert run.total_requests == run.total_failures > 0
    group = ErrorGroup.objects.get(run=run)
    assert (group.error_class, group.message) == ("UnexpectedStatus", "HTTP 503 (expected 200-299)")
    assert sum(RunSecond.objects.filter(run=run).values_list("failures", flat=True)) == run.total_failures


@pytest.mark.slow
def test_a_second_delivery_of_the_task_runs_nothing(
    transactional_db: None, live_worker: Any, target_server: str, make_plan: Any
) -> None:
    plan = make_plan(target_server, "/delay", query={"ms": "100"}, params={"users": 2, "duration": 3})
    before = target_count(target_server, "/delay")
    run = run_create(plan=plan)
    execute_run.delay(run.pk)  # the broker delivers it again, to the worker's other process

    run = _wait_ended(run)
    time.sleep(0.5)
    execute_run(run.pk)  # and once more, in this process, after the end

    assert run.status == Run.Status.FINISHED
    # One child ran: the target saw exactly the requests of one run.
    assert target_count(target_server, "/delay") - before == run.total_requests
    assert run.total_requests <= 2 * 3 / 0.1 + 5
    assert Run.objects.get(pk=run.pk).status == Run.Status.FINISHED
    assert run_claim(run_id=run.pk) is False


@pytest.mark.slow
def test_a_crashing_child_fails_the_run_and_keeps_earlier_data(
    transactional_db: None, live_worker: Any, target_server: str, make_plan: Any
) -> None:
    plan = make_plan(target_server, "/delay", query={"ms": "50"}, params={"users": 2, "duration": 30})
    run = run_create(plan=plan)
    _wait_seconds(run, 2)
    children = wait_for(lambda: _engine_children(live_worker.pid), timeout=5, what="the Locust child")
    children[0].send_signal(signal.SIGKILL)

    run = _wait_ended(run, timeout=10)

    assert run.status == Run.Status.FAILED
    assert "exited unexpectedly (killed by SIGKILL)" in run.error_message
    assert RunSecond.objects.filter(run=run).count() >= 2
    assert run.total_requests > 0
    assert EndpointSummary.objects.get(run=run).requests == run.total_requests


@pytest.mark.slow
def test_the_time_cap_stops_an_overrunning_child(
    db: None, settings: Any, target_server: str, make_plan: Any
) -> None:
    plan = make_plan(target_server, "/delay", query={"ms": "20"}, params={"users": 2, "duration": 30})
    run = _queued_run(plan)
    settings.SCALETEST_MAX_RUN_SECONDS = 3
    assert run_claim(run_id=run.pk)

    started = time.monotonic()
    status = run_execute(run_id=run.pk)

    assert time.monotonic() - started < 3 + settings.SCALETEST_STOP_GRACE_SECONDS + 2
    run.refresh_from_db()
    assert status == run.status == Run.Status.FAILED
    assert "time cap of 3 s" in run.error_message
    assert run.total_requests > 0
    assert RunSecond.objects.filter(run=run).count() >= 1


@pytest.mark.slow
def test_a_bad_snapshot_fails_the_run_with_the_generators_message(db: None, make_plan: Any) -> None:
    plan = make_plan("http://127.0.0.1:9", "/", expected_statuses="banana")
    run = _queued_run(plan)
    assert run_claim(run_id=run.pk)

    assert run_execute(run_id=run.pk) == Run.Status.FAILED

    run.refresh_from_db()
    assert run.error_message.startswith("The load generator failed: ValueError")


@pytest.mark.slow
def test_a_warm_worker_shutdown_stops_its_run_cleanly(
    transactional_db: None, target_server: str, make_plan: Any
) -> None:
    queue = os.environ["SCALETEST_QUEUE"] + "-shutdown"
    worker = start_worker(queue=queue, concurrency=1)
    try:
        plan = make_plan(target_server, "/delay", query={"ms": "100"}, params={"users": 2, "duration": 60})
        run = _queued_run(plan)
        execute_run.apply_async(args=[run.pk], queue=queue)
        _wait_seconds(run, 2)

        asked = time.monotonic()
        worker.proc.send_signal(signal.SIGTERM)
        run = _wait_ended(run, timeout=10)
        assert worker.proc.wait(timeout=20) == 0
        assert time.monotonic() - asked < 10
    finally:
        worker.stop(timeout=5)
    assert run.status == Run.Status.CANCELLED
    assert run.error_message == SHUTDOWN_MESSAGE
    assert RunSecond.objects.filter(run=run).count() >= 2


def test_the_reaper_fails_silent_runs_and_keeps_their_data(db: None, make_plan: Any) -> None:
    plan = make_plan("http://127.0.0.1:9", "/a")
    long_ago = timezone.now() - dt.timedelta(minutes=5)
    silent = _queued_run(plan)
    never_beat = _queued_run(plan)
    alive = _queued_run(plan)
    Run.objects.filter(pk=silent.pk).update(
        status=Run.Status.RUNNING, started_at=long_ago, heartbeat_at=long_ago
    )
    Run.objects.filter(pk=never_beat.pk).update(
        status=Run.Status.RUNNING, started_at=long_ago, heartbeat_at=None
    )
    Run.objects.filter(pk=alive.pk).update(
        status=Run.Status.RUNNING, started_at=long_ago, heartbeat_at=timezone.now()
    )
    h = Histogram()
    h.record_ms(12.0)
    start = int(long_ago.timestamp())
    results_ingest(
        run_id=silent.pk,
        seconds=[SecondMessage(start, 1, None, (EndpointMsg("GET", "/a", 1, 0, 3, h.to_dict()),), ())],
    )

    assert sorted(runs_reap_stale(stale_after_seconds=60)) == sorted([silent.pk, never_beat.pk])

    silent.refresh_from_db()
    assert silent.status == Run.Status.FAILED
    assert silent.error_message.startswith("The worker was lost")
    assert silent.finished_at is not None
    assert RunSecond.objects.filter(run=silent).count() == 1
    assert EndpointSummary.objects.get(run=silent).requests == 1
    assert Run.objects.get(pk=never_beat.pk).status == Run.Status.FAILED
    assert Run.objects.get(pk=alive.pk).status == Run.Status.RUNNING
    call_command("reap_runs", "--stale-after", "60")  # nothing left to reap
    assert Run.objects.get(pk=alive.pk).status == Run.Status.RUNNING
