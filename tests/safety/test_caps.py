"""Caps: users, duration, concurrent runs and a per-target daily budget; a refused run says why
and nothing is queued."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from runs.models import Run, RunSecond
from runs.services import caps
from runs.services.runs import RunError, run_create

from ..engine.helpers import wait_for
from ..races import at_once, slowed


def test_a_run_over_the_user_cap_is_refused(
    db: None, settings: Any, make_plan: Any, target_server: str
) -> None:
    settings.SCALETEST_MAX_USERS = 5
    plan = make_plan(target_server, params={"users": 6, "duration": 3})
    with pytest.raises(RunError, match="5"):
        run_create(plan=plan)
    assert Run.objects.count() == 0


def test_a_run_over_the_duration_cap_is_refused(
    db: None, settings: Any, make_plan: Any, target_server: str
) -> None:
    settings.SCALETEST_MAX_RUN_SECONDS = 10
    plan = make_plan(target_server, params={"users": 1, "duration": 11})
    with pytest.raises(RunError, match="10"):
        run_create(plan=plan)
    assert Run.objects.count() == 0


def test_the_caps_themselves_name_the_cap(db: None, settings: Any) -> None:
    settings.SCALETEST_MAX_USERS, settings.SCALETEST_MAX_RUN_SECONDS = 5, 10
    snap = {"target": {"id": 1}, "profile": {"peak_users": 6, "duration": 3}}
    with pytest.raises(caps.Refused, match="6 users; the cap is 5"):
        caps.caps_check(scope=caps.GLOBAL, snapshot=snap)
    snap["profile"] = {"peak_users": 1, "duration": 11}
    with pytest.raises(caps.Refused, match="11 s; the cap is 10 s"):
        caps.caps_check(scope=caps.GLOBAL, snapshot=snap)


def test_concurrent_runs_are_capped_and_a_slot_frees_when_a_run_ends(
    db: None, settings: Any, make_plan: Any, target_server: str, alice: Any
) -> None:
    settings.SCALETEST_MAX_CONCURRENT_RUNS = 2
    plan = make_plan(target_server, owner=alice)
    first, second = run_create(plan=plan), run_create(plan=plan)
    with pytest.raises(RunError, match="2 runs are already queued or running; at most 2"):
        run_create(plan=plan)
    client = Client()
    client.force_login(alice)
    page = client.post(f"/plans/{plan.pk}/start/", follow=True)
    assert "at most 2 may run at once" in page.content.decode()
    assert Run.objects.count() == 2

    Run.objects.filter(pk=first.pk).update(status=Run.Status.FINISHED, finished_at=timezone.now())
    assert run_create(plan=plan).status == Run.Status.QUEUED
    assert second.pk


def test_the_daily_budget_counts_measured_user_seconds_of_ended_runs_and_planned_ones_of_active_runs(
    db: None, settings: Any, make_plan: Any, target_server: str
) -> None:
    settings.SCALETEST_TARGET_DAILY_USER_SECONDS = 20
    plan = make_plan(target_server, params={"users": 2, "duration": 3})  # 6 user-seconds planned
    other = make_plan(target_server, params={"users": 2, "duration": 3}, name="Other")
    done = run_create(plan=plan)
    Run.objects.filter(pk=done.pk).update(status=Run.Status.FINISHED)
    for t in range(3):
        RunSecond.objects.create(run=done, t=t, users=2)  # 6 measured
    active = run_create(plan=plan)  # 6 planned: 12 used
    assert caps.target_user_seconds_used(scope=caps.GLOBAL, target_id=plan.target.pk) == 12
    run_create(plan=plan)  # 18
    with pytest.raises(RunError, match=r"up to 6 user-seconds.*only 2 of its daily budget of 20"):
        run_create(plan=plan)
    assert run_create(plan=other).status == Run.Status.QUEUED  # another target has its own budget

    # Runs older than 24 h no longer count.
    day_ago = timezone.now() - dt.timedelta(hours=25)
    Run.objects.filter(snapshot__target__id=plan.target.pk).update(created_at=day_ago)
    assert caps.target_user_seconds_used(scope=caps.GLOBAL, target_id=plan.target.pk) == 0
    assert active.pk


def test_a_budget_of_zero_is_no_budget(db: None, settings: Any, make_plan: Any, target_server: str) -> None:
    settings.SCALETEST_TARGET_DAILY_USER_SECONDS = 0
    settings.SCALETEST_MAX_CONCURRENT_RUNS = 100
    plan = make_plan(target_server, params={"users": 100, "duration": 100})
    for _ in range(5):
        run_create(plan=plan)
    assert Run.objects.count() == 5


def test_caps_take_a_scope_so_teams_can_plug_in(db: None) -> None:
    assert caps.caps_for(scope=caps.GLOBAL).max_concurrent_runs >= 1
    assert caps.GLOBAL.runs().model is Run


def test_a_teams_own_caps_apply_to_its_runs_only_and_never_raise_the_servers(
    db: None, settings: Any, make_plan: Any, target_server: str, team: Any, carol: Any
) -> None:
    from runs.models import Team

    settings.SCALETEST_MAX_CONCURRENT_RUNS = 3
    team.max_concurrent_runs, team.max_users = 1, 100  # 100 > the server's cap of 50
    team.save()
    settings.SCALETEST_MAX_USERS = 50
    plan = make_plan(target_server)
    run_create(plan=plan)
    with pytest.raises(RunError, match="1 runs are already queued or running; at most 1"):
        run_create(plan=plan)
    # Carol's team has no cap of its own: the server's settings apply to it.
    carols = make_plan(target_server, team=Team.objects.get(memberships__user=carol), name="Carol's")
    run_create(plan=carols)
    run_create(plan=carols)
    with pytest.raises(RunError, match="3 runs are already queued or running; at most 3"):
        run_create(plan=carols)
    assert caps.caps_for(scope=caps.team_scope(team_id=team.pk)).max_users == 50
    big = make_plan(target_server, params={"users": 60, "duration": 3}, name="Big")
    team.max_concurrent_runs = None
    team.save()
    with pytest.raises(RunError, match="at most 50 users"):
        run_create(plan=big)


@pytest.mark.slow
def test_two_runs_started_at_once_cannot_both_take_the_last_slot(
    transactional_db: None,
    settings: Any,
    make_plan: Any,
    target_server: str,
    live_worker: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # PostgreSQL: the advisory lock of caps.scope_lock; SQLite: the write lock its IMMEDIATE
    # transactions take at BEGIN. Without either, both requests count 0 active runs and start.
    settings.SCALETEST_MAX_CONCURRENT_RUNS = 1
    plans = [make_plan(target_server, params={"users": 1, "duration": 1}, name=f"Race {i}") for i in (1, 2)]
    monkeypatch.setattr(caps, "caps_check", slowed(caps.caps_check, 0.5))

    outcomes = at_once(*(lambda plan=plan: run_create(plan=plan) for plan in plans))

    started = [o for o in outcomes if isinstance(o, Run)]
    refused = [o for o in outcomes if isinstance(o, RunError)]
    assert len(started) == len(refused) == 1, outcomes
    assert "at most 1 may run at once" in str(refused[0])
    assert list(Run.objects.values_list("pk", flat=True)) == [started[0].pk]
    # The run that got the slot really runs (and ends before the next test).
    wait_for(
        lambda: Run.objects.get(pk=started[0].pk).status not in Run.ACTIVE, timeout=30, what="the run to end"
    )
