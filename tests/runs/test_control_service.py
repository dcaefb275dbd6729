"""Live control's rules, on the database: who may change a run, when, to what; a refusal records
nothing; the runner's side (take, acknowledge, close); the plan and the steps that follow.

Alice owns the team, Bob edits in it, Victor only views it, Carol has a team of her own.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from runs.models import AuditEntry, Run, RunControl, Team, TestPlan
from runs.selectors import control as selectors_control
from runs.services import control as service
from runs.services.analysis import run_planned_levels
from runs.services.runs import run_finish
from tests.pages.conftest import make_run, seeded_plan  # noqa: F401  (fixture)


@pytest.fixture
def running(seeded_plan: TestPlan) -> Run:  # noqa: F811
    """A running run of 3 constant users for 4 s."""
    return make_run(seeded_plan, status=Run.Status.RUNNING)


def _nothing_recorded(run: Run) -> None:
    assert not RunControl.objects.filter(run=run).exists()
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.RUN_CONTROL).exists()


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "“abc” is not a number."),
        ("", "Give the new user count."),
        ("0", "At least 1 user must run; to end the run, stop it early."),
        ("2.5", "The user count must be a whole number."),
        ("3", "Run #{pk} already runs at 3 users; nothing to change."),
    ],
)
def test_bad_values_are_refused_with_a_clear_message_and_nothing_changes(
    running: Run, alice: Any, value: str, message: str
) -> None:
    with pytest.raises(service.ControlInvalid) as refused:
        service.run_control_set(run=running, value=value, user=alice)
    assert str(refused.value) == message.format(pk=running.pk)
    _nothing_recorded(running)


def test_a_level_above_the_teams_cap_is_refused_naming_the_cap(running: Run, alice: Any) -> None:
    Team.objects.filter(pk=running.team_id).update(max_users=10)
    with pytest.raises(service.ControlInvalid, match="11 users is above this team's cap of 10 users"):
        service.run_control_set(run=running, value="11", user=alice)
    _nothing_recorded(running)
    assert service.run_control_set(run=running, value="10", user=alice).value == 10


@pytest.mark.parametrize("status", [Run.Status.QUEUED, Run.Status.FINISHED, Run.Status.CANCELLED])
def test_only_a_running_run_changes(seeded_plan: TestPlan, alice: Any, status: str) -> None:  # noqa: F811
    run = make_run(seeded_plan, status=status)
    with pytest.raises(service.ControlConflict, match=f"Run #{run.pk} is not running"):
        service.run_control_set(run=run, value="5", user=alice)
    with pytest.raises(service.ControlConflict, match="is not running"):
        service.run_stop_early(run=run, user=alice)
    _nothing_recorded(run)


def test_stepped_and_distributed_runs_are_refused_but_may_stop_early(
    seeded_plan: TestPlan,  # noqa: F811
    alice: Any,
) -> None:
    stepped = make_run(seeded_plan, status=Run.Status.RUNNING)
    stepped.snapshot["profile"] = {
        "kind": "staircase",
        "params": {"start_users": 1, "step_users": 1, "step_duration": 5, "steps": 2},
    }
    stepped.save()
    with pytest.raises(service.ControlConflict, match="profile is “Staircase”"):
        service.run_control_set(run=stepped, value="5", user=alice)
    distributed = make_run(seeded_plan, status=Run.Status.RUNNING, generators=2)
    with pytest.raises(service.ControlConflict, match="spread over 2 load generators"):
        service.run_control_set(run=distributed, value="5", user=alice)
    _nothing_recorded(stepped)
    assert service.run_stop_early(run=distributed, user=alice).kind == RunControl.Kind.STOP


def test_a_change_is_recorded_pending_with_the_level_before_and_audited(running: Run, bob: Any) -> None:
    entry = service.run_control_set(run=running, value="8", user=bob)
    assert (entry.kind, entry.value, entry.previous, entry.state) == ("users", 8.0, 3.0, "pending")
    assert entry.requested_by == bob
    assert service.run_level(run=running) == 8.0
    audit = AuditEntry.objects.get(action=AuditEntry.Action.RUN_CONTROL)
    assert audit.details == {"change": "users", "from": 3.0, "to": 8.0}


def test_after_a_stop_early_nothing_more_is_taken(running: Run, alice: Any) -> None:
    service.run_stop_early(run=running, user=alice)
    with pytest.raises(service.ControlConflict, match="already stopping early"):
        service.run_control_set(run=running, value="5", user=alice)
    with pytest.raises(service.ControlConflict, match="already stopping early"):
        service.run_stop_early(run=running, user=alice)
    assert RunControl.objects.filter(run=running).count() == 1


def test_an_arrival_rate_run_takes_a_rate(seeded_plan: TestPlan, alice: Any) -> None:  # noqa: F811
    run = make_run(seeded_plan, status=Run.Status.RUNNING)
    run.snapshot["profile"] = {
        "kind": "arrival_constant",
        "params": {"rate": 5, "duration": 30, "max_in_flight": 9},
    }
    run.save()
    entry = service.run_control_set(run=run, value="12.5", user=alice)
    assert (entry.kind, entry.value, entry.previous) == ("rate", 12.5, 5.0)
    with pytest.raises(service.ControlInvalid, match="above 0 iterations/s"):
        service.run_control_set(run=run, value="0", user=alice)


# -- the runner's side ----------------------------------------------------------------------------
def test_the_runner_takes_each_change_once_and_records_when_it_was_applied(running: Run, alice: Any) -> None:
    first = service.run_control_set(run=running, value="5", user=alice)
    second = service.run_control_set(run=running, value="7", user=alice)
    taken = service.run_controls_take(run_id=running.pk)
    assert [e.pk for e in taken] == [first.pk, second.pk] and {e.state for e in taken} == {"sent"}
    assert service.run_controls_take(run_id=running.pk) == []
    start = 1_760_000_000
    assert service.run_control_acknowledge(
        run_id=running.pk, control_id=first.pk, applied=True, epoch=start + 2.25, start_epoch=start
    )
    assert service.run_control_acknowledge(
        run_id=running.pk,
        control_id=second.pk,
        applied=False,
        epoch=start + 3.0,
        start_epoch=start,
        message="no",
    )
    # Another run's id, or one answered already, changes nothing.
    assert not service.run_control_acknowledge(
        run_id=running.pk + 1, control_id=first.pk, applied=False, epoch=start, start_epoch=start
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, first.at_s) == ("applied", 2.25)
    assert first.applied_at == dt.datetime.fromtimestamp(start + 2.25, tz=dt.UTC)
    assert (second.state, second.message) == ("refused", "no")
    # A refused change is not the level.
    assert service.run_level(run=running) == 5.0


def test_what_the_run_never_applied_is_marked_missed_when_it_ends(running: Run, alice: Any) -> None:
    pending = service.run_control_set(run=running, value="5", user=alice)
    run_finish(run_id=running.pk, status=Run.Status.FINISHED)
    pending.refresh_from_db()
    assert pending.state == "missed" and "ended before" in pending.message


def test_the_plan_followed_has_one_level_per_applied_change_cut_at_the_stop(running: Run, alice: Any) -> None:
    Run.objects.filter(pk=running.pk).update(
        snapshot={**running.snapshot, "profile": {"kind": "constant", "params": {"users": 3, "duration": 30}}}
    )
    running.refresh_from_db()
    change = service.run_control_set(run=running, value="6", user=alice)
    refused = service.run_control_set(run=running, value="9", user=alice)
    stop = service.run_stop_early(run=running, user=alice)
    RunControl.objects.filter(pk=change.pk).update(state="applied", at_s=10.5)
    RunControl.objects.filter(pk=refused.pk).update(state="refused", at_s=12.0)
    RunControl.objects.filter(pk=stop.pk).update(state="applied", at_s=20.0)
    levels = run_planned_levels(running)
    assert [(lv.users, lv.start_s, lv.end_s) for lv in levels] == [(3, 0.0, 10.5), (6, 10.5, 20.0)]
    markers = selectors_control.timeline_markers(selectors_control.run_timeline(run=running))
    assert [(m["t"], m["label"]) for m in markers] == [(10.5, "→ 6 users"), (20.0, "stopped early")]


# -- the page's forms -------------------------------------------------------------------------------
def test_the_page_forms_check_the_role_and_the_team(running: Run, bob: Any, victor: Any, carol: Any) -> None:
    url = f"/runs/{running.pk}/control/"
    assert _client(carol).post(url, {"value": "5"}).status_code == 404
    assert _client(victor).post(url, {"value": "5"}).status_code == 403
    assert _client(carol).post(f"/runs/{running.pk}/stop-early/").status_code == 404
    assert _client(victor).post(f"/runs/{running.pk}/stop-early/").status_code == 403
    _nothing_recorded(running)
    page = _client(bob).post(url, {"value": "abc"}, follow=True)
    assert "“abc” is not a number." in page.content.decode()
    _nothing_recorded(running)
    page = _client(bob).post(url, {"value": "6"}, follow=True)
    assert "goes to 6 users" in page.content.decode()
    assert RunControl.objects.get(run=running).value == 6


def test_the_page_needs_its_csrf_token(running: Run, bob: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    assert client.post(f"/runs/{running.pk}/control/", {"value": "6"}).status_code == 403
    _nothing_recorded(running)


def test_an_ended_runs_page_and_report_show_its_timeline_and_markers(
    seeded_plan: TestPlan,  # noqa: F811
    alice: Any,
) -> None:
    run = make_run(seeded_plan, status=Run.Status.RUNNING)
    change = service.run_control_set(run=run, value="6", user=alice)
    RunControl.objects.filter(pk=change.pk).update(state="applied", at_s=2.0)
    run_finish(run_id=run.pk, status=Run.Status.FINISHED)
    client = _client(alice)
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert 'id="timeline-list"' in page and "→ 6 users" in page and "(from 3)" in page and "by alice" in page
    assert "live-control" not in page  # only while it runs
    figs = client.get(f"/runs/{run.pk}/").context["figs"]
    assert [
        s["x0"] for s in figs["users"]["layout"]["shapes"] if s.get("name") == f"control-{change.pk}"
    ] == [2.0]
    # The offline report draws them too (its JSON escapes "→").
    report = client.get(f"/runs/{run.pk}/report.html").content.decode()
    assert f'"name": "control-{change.pk}"' in report and "\\u2192 6 users" in report
