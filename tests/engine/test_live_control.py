"""Live control end to end: run_create → real Celery worker → real Locust child against the demo
target; the users change mid-run, the stored seconds follow, the run stops early and ends
finished with every measured second kept, and the analysis has one step per level."""

from __future__ import annotations

import math
from typing import Any

import pytest

from runs.models import Run, RunControl, RunSecond
from runs.selectors.analysis import run_capacity
from runs.services.control import run_control_set, run_stop_early
from runs.services.runs import run_create

from .helpers import target_count, wait_for

pytestmark = pytest.mark.slow


def _state(entry: RunControl) -> str:
    entry.refresh_from_db()
    return entry.state


@pytest.mark.slow
def test_users_change_mid_run_then_it_stops_early_finished_with_two_steps(
    transactional_db: None, live_worker: Any, target_server: str, make_plan: Any, alice: Any
) -> None:
    plan = make_plan(
        target_server, "/delay", query={"ms": "20"}, params={"users": 2, "duration": 40}, owner=alice
    )
    before = target_count(target_server, "/delay")
    run = run_create(plan=plan, user=alice)
    wait_for(lambda: Run.objects.get(pk=run.pk).last_t >= 3, timeout=30, what="4 stored seconds")

    change = run_control_set(run=run, value="5", user=alice)
    wait_for(lambda: _state(change) == "applied", timeout=10, what="the change to be applied")
    assert change.at_s is not None and 3.0 <= change.at_s < 8.0
    changed_at = change.at_s
    wait_for(
        lambda: Run.objects.get(pk=run.pk).last_t >= changed_at + 6, timeout=20, what="6 s at the new level"
    )
    stop = run_stop_early(run=run, user=alice)
    wait_for(
        lambda: Run.objects.get(pk=run.pk).status != Run.Status.RUNNING, timeout=15, what="the run to end"
    )

    run.refresh_from_db()
    stop.refresh_from_db()
    assert run.status == Run.Status.FINISHED
    assert run.error_message.startswith(f"Stopped early by alice at {stop.at_s:.0f} s of 40 s planned")
    assert stop.state == "applied" and stop.at_s is not None and stop.at_s < 20
    # Every measured second is stored, none lost: the target's own count agrees.
    seconds = list(RunSecond.objects.filter(run=run).order_by("t"))
    assert [s.t for s in seconds] == list(range(len(seconds)))
    assert (
        sum(s.requests for s in seconds)
        == run.total_requests
        == target_count(target_server, "/delay") - before
    )
    assert len(seconds) < 25
    # The stored user counts follow the change (Locust's shape takes it at its next tick).
    users = {s.t: s.users for s in seconds}
    assert all(users[t] == 2 for t in range(math.floor(change.at_s)))
    assert all(users[t] == 5 for t in range(math.ceil(change.at_s) + 1, math.floor(stop.at_s)))
    # One step per level.
    capacity = run_capacity(run=run)
    assert capacity is not None
    assert [step.users for step in capacity.steps] == [2, 5]
    assert capacity.show_capacity
