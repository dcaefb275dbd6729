"""Arrival-rate (open model) runs end to end: run_create → real Celery worker → real Locust child.

The planned integral of the rate is the yardstick: an open model starts that many iterations
whatever the response times, and what the in-flight cap keeps from starting is counted as
dropped, never queued. A demo target of the test's own counts the requests it handled at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from runs.core import profiles
from runs.core.demo_target import DemoTarget, start_demo_target
from runs.core.engine.protocol import DoneMessage, HelloMessage, SecondMessage
from runs.models import Run, RunSecond
from runs.services.runs import run_create

from .helpers import Child, snapshot, target_count, wait_for

ENDED = (Run.Status.FINISHED, Run.Status.FAILED, Run.Status.CANCELLED)
pytestmark = pytest.mark.first_database_only(
    reason=(
        "measures the load generator 's arrival-rate pacing; the database only stores what it "
        "measured, through the ingestion tests/engine/test_runs.py and tests/safety/test_faults.py "
        "check on both databases"
    )
)


@pytest.fixture
def own_target() -> Iterator[DemoTarget]:
    """A target no other test sends load to, so its in-flight peak is this test's alone."""
    target = start_demo_target()
    yield target
    target.stop()


def _run(plan: Any) -> tuple[Run, list[RunSecond]]:
    run = run_create(plan=plan)
    wait_for(lambda: Run.objects.get(pk=run.pk).status in ENDED, timeout=40, what=f"run {run.pk} to end")
    run.refresh_from_db()
    assert run.status == Run.Status.FINISHED, run.error_message
    return run, list(RunSecond.objects.filter(run=run).order_by("t"))


@pytest.mark.slow
@pytest.mark.parametrize("delay_ms", [50, 250])
def test_a_constant_arrival_rate_starts_the_planned_iterations_whatever_the_latency(
    transactional_db: None, live_worker: Any, target_server: str, make_plan: Any, delay_ms: int
) -> None:
    params = {"rate": 40, "duration": 4, "max_in_flight": 50}
    plan = make_plan(
        target_server, "/delay", query={"ms": str(delay_ms)}, profile_kind="arrival_constant", params=params
    )
    before = target_count(target_server, "/delay")

    run, seconds = _run(plan)

    assert run.total_requests == target_count(target_server, "/delay") - before
    assert run.total_requests == pytest.approx(40 * 4, rel=0.05)
    assert run.total_failures == 0
    assert sum(s.dropped_iterations for s in seconds) == 0
    # Little's law: in flight ≈ rate × latency (2 at 50 ms, 10 at 250 ms), not a user count (the
    # cap of 50). The peak second is bounded by the tail latency the run measured: on a busy
    # machine a few responses come late and the iterations started meanwhile pile up briefly.
    assert max(s.users for s in seconds) <= 40 * max(delay_ms, run.p99_ms or 0.0) / 1000 + 5
    # Full seconds of load run at the planned rate.
    assert [s.requests for s in seconds[1:4]] == [pytest.approx(40, abs=3)] * 3
    assert run.p50_ms == pytest.approx(delay_ms, rel=0.1)


@pytest.mark.slow
def test_the_in_flight_cap_drops_the_iterations_it_cannot_start(
    transactional_db: None, live_worker: Any, own_target: DemoTarget, make_plan: Any
) -> None:
    params = {"rate": 40, "duration": 4, "max_in_flight": 5}
    plan = make_plan(
        own_target.url, "/delay", query={"ms": "500"}, profile_kind="arrival_constant", params=params
    )

    run, seconds = _run(plan)

    dropped = sum(s.dropped_iterations for s in seconds)
    assert dropped > 0
    # Every due iteration either started (and was measured) or was dropped: none queued, none lost.
    assert run.total_requests + dropped == 40 * 4
    assert run.total_requests == own_target.stats()["paths"]["/delay"]
    # 5 slots of 500 ms: 10 iterations/s start, the other 30 due each second are dropped.
    assert run.total_requests == pytest.approx(5 * 4 / 0.5, abs=5)
    assert own_target.stats()["in_flight_peak"] <= 5
    assert max(s.users for s in seconds) == 5
    # Latency is the target's, not inflated by the iterations waiting for a slot: one that
    # waited would take 500 ms more (a slot's whole request), and with 30 of 40 due each
    # second over the cap, most would. The median is held to the target's 500 ms; p99 only
    # below that inflation (a busy machine delays the odd response by tens of ms: p99 was
    # 558 ms once in a full suite run beside a demo run).
    assert run.p50_ms == pytest.approx(500, rel=0.1)
    assert 500 <= (run.p99_ms or 0.0) < 750


@pytest.mark.slow
def test_a_ramping_arrival_rate_starts_its_integral(
    transactional_db: None, live_worker: Any, target_server: str, make_plan: Any
) -> None:
    params = {"from_rate": 10, "to_rate": 50, "duration": 4, "hold": 1, "max_in_flight": 50}
    plan = make_plan(target_server, "/delay", query={"ms": "20"}, profile_kind="arrival_ramp", params=params)
    planned = profiles.iterations_until(plan.profile.plan(), 5)
    assert planned == 170  # (10 + 50) / 2 × 4 + 50 × 1

    run, seconds = _run(plan)

    assert run.total_requests == pytest.approx(planned, rel=0.05)
    assert sum(s.dropped_iterations for s in seconds) == 0
    # The rate climbs second by second as planned: the integral of each second of the ramp.
    planned_per_second = [15, 25, 35, 45, 50]
    assert [s.requests for s in seconds[:5]] == [pytest.approx(n, abs=4) for n in planned_per_second]


def test_a_stop_ends_an_open_model_run_at_once_and_keeps_what_was_measured(own_target: DemoTarget) -> None:
    first = snapshot(own_target.url, "/delay", query={"ms": "200"}, stop_timeout=1.0)
    params = {"rate": 20, "duration": 60, "max_in_flight": 10}
    first["profile"] = {"kind": "arrival_constant", "params": params}
    child = Child(first)
    assert isinstance(child.next_message(), HelloMessage)
    second = child.next_message()
    assert isinstance(second, SecondMessage) and second.dropped_iterations == 0
    asked = time.monotonic()
    child.send(b'{"cmd":"stop"}\n')
    messages = child.read_all(timeout=10)
    assert time.monotonic() - asked < 2.0
    assert messages[-1] == DoneMessage("stopped")
    served = own_target.stats()["paths"]["/delay"]
    time.sleep(0.5)
    assert own_target.stats()["paths"]["/delay"] == served  # no load after the stop
    assert sum(s.requests for s in child.seconds()) == served  # in-flight iterations finished and counted
