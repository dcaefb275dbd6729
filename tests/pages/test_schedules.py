"""Scheduled runs: a plan's cron schedule, and Celery beat starting due plans exactly once.

``schedules_start_due`` is what the beat task ``runs.tasks.start_due_schedules`` calls; the
last test lets beat's task start a real run (worker + Locust against the demo target).
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from runs.core.cron import cron_next_times, cron_parse
from runs.models import Run, TestPlan
from runs.selectors import analysis as selectors_analysis
from runs.services.baseline import plan_set_baseline
from runs.services.runs import run_create
from runs.services.schedules import _claim, plan_set_schedule, schedules_start_due
from tests.engine.helpers import wait_for
from tests.pages.conftest import make_run

ENDED = (Run.Status.FINISHED, Run.Status.FAILED, Run.Status.CANCELLED)


def client_for(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def make_due(plan: TestPlan, expression: str = "*/5 * * * *") -> TestPlan:
    plan_set_schedule(plan=plan, expression=expression)
    TestPlan.objects.filter(pk=plan.pk).update(schedule_next_at=timezone.now() - timedelta(minutes=1))
    plan.refresh_from_db()
    return plan


@pytest.mark.django_db
def test_the_plan_page_sets_a_schedule_and_shows_the_next_three_times(
    alice: Any, alice_client: Client, seeded_plan: TestPlan, victor: Any
) -> None:
    url = reverse("runs-plan-schedule", args=[seeded_plan.pk])
    response = alice_client.post(url, {"schedule": "61 * * * *"}, follow=True)
    assert "Schedule not saved: The minute field “61” is not valid" in response.content.decode()
    seeded_plan.refresh_from_db()
    assert seeded_plan.schedule == "" and seeded_plan.schedule_next_at is None

    assert client_for(victor).post(url, {"schedule": "0 3 * * *"}).status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(url, {"schedule": "0 3 * * *"}).status_code == 403
    seeded_plan.refresh_from_db()
    assert seeded_plan.schedule == ""

    before = timezone.now()
    alice_client.post(url, {"schedule": " 0  3 * * * "})
    seeded_plan.refresh_from_db()
    expected = cron_next_times(cron_parse("0 3 * * *"), after=before, tz="UTC", count=3)
    assert seeded_plan.schedule == "0 3 * * *" and seeded_plan.schedule_next_at == expected[0]
    page = alice_client.get(seeded_plan.get_absolute_url()).content.decode()
    section = page.split('id="plan-schedule"')[1].split("</section>")[0]
    for t in expected:
        assert f"{t:%Y-%m-%d} 03:00" in section
    assert "(UTC time)" in section and "times in UTC" in section

    alice_client.post(url, {"schedule": ""})
    seeded_plan.refresh_from_db()
    assert seeded_plan.schedule == "" and seeded_plan.schedule_next_at is None


@pytest.mark.django_db
def test_a_due_schedule_starts_exactly_one_run_however_often_beat_fires(seeded_plan: TestPlan) -> None:
    plan = make_due(seeded_plan)
    due_at = plan.schedule_next_at
    first = schedules_start_due()
    second = schedules_start_due()
    run = Run.objects.get()
    assert [(o.plan_id, o.run_id, o.error) for o in first] == [(plan.pk, run.pk, "")] and second == []
    assert (run.trigger, run.team_id, run.plan_id, run.status) == (
        "scheduled",
        plan.team_id,
        plan.pk,
        "queued",
    )
    plan.refresh_from_db()
    assert plan.schedule_next_at is not None
    assert plan.schedule_next_at > timezone.now() and plan.schedule_last_run_id == run.pk
    # A beat (or a redelivered message) that read the same due row before the claim loses it.
    assert _claim(plan_id=plan.pk, expression=plan.schedule, due_at=due_at, now=timezone.now()) is False
    # A plan that is not due is left alone.
    assert schedules_start_due(now=plan.schedule_next_at - timedelta(seconds=1)) == []
    assert Run.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_beats_racing_for_the_same_due_row_claim_it_once(seeded_plan: TestPlan) -> None:
    """Four beats read the same due row, then claim it at the same moment: one wins. Then four
    whole beats at once start one run."""
    plan = make_due(seeded_plan)
    now = timezone.now()
    barrier = threading.Barrier(4)
    claims: list[bool] = []
    outcomes: list[Any] = []

    def in_thread(work: Any) -> threading.Thread:
        def target() -> None:
            try:
                barrier.wait(timeout=10)
                work()
            finally:
                connection.close()

        return threading.Thread(target=target)

    def run_all(work: Any) -> None:
        threads = [in_thread(work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)

    run_all(
        lambda: claims.append(
            _claim(plan_id=plan.pk, expression=plan.schedule, due_at=plan.schedule_next_at, now=now)
        )
    )
    assert sorted(claims) == [False, False, False, True]

    make_due(plan)
    run_all(lambda: outcomes.extend(schedules_start_due(now=now)))
    assert Run.objects.count() == 1
    assert [o.run_id for o in outcomes] == [Run.objects.get().pk]


@pytest.mark.django_db
def test_a_refused_start_is_recorded_on_the_plan_and_shown_not_raised(
    alice_client: Client, seeded_plan: TestPlan, settings: Any
) -> None:
    settings.SCALETEST_MAX_CONCURRENT_RUNS = 1
    make_run(seeded_plan, status=Run.Status.QUEUED)
    plan = make_due(seeded_plan)
    [outcome] = schedules_start_due()
    assert outcome.run_id is None and "at most 1 may run at once" in outcome.error
    assert Run.objects.count() == 1
    plan.refresh_from_db()
    assert outcome.error in plan.schedule_last_error
    # Not retried every 30 s: the next attempt is the next scheduled time.
    assert plan.schedule_next_at is not None
    assert plan.schedule_next_at > timezone.now() and schedules_start_due() == []
    page = alice_client.get(plan.get_absolute_url()).content.decode()
    assert "Last scheduled start refused" in page and outcome.error.split(";")[0] in page


@pytest.mark.slow
def test_a_scheduled_run_is_compared_with_the_plans_baseline(
    transactional_db: None, live_worker: Any, target_server: str, make_plan: Any, alice: Any
) -> None:
    from runs.tasks import start_due_schedules

    plan = make_plan(target_server, "/", params={"users": 2, "duration": 3}, owner=alice)
    baseline = run_create(plan=plan, user=alice)
    wait_for(lambda: Run.objects.get(pk=baseline.pk).status in ENDED, timeout=40, what="the baseline run")
    baseline.refresh_from_db()
    assert baseline.status == Run.Status.FINISHED, baseline.error_message
    plan_set_baseline(run=baseline)

    make_due(plan, "0 * * * *")
    assert start_due_schedules() == 1  # the beat task itself
    scheduled = Run.objects.exclude(pk=baseline.pk).get()
    wait_for(lambda: Run.objects.get(pk=scheduled.pk).status in ENDED, timeout=40, what="the scheduled run")
    scheduled.refresh_from_db()
    assert scheduled.status == Run.Status.FINISHED and scheduled.trigger == Run.Trigger.SCHEDULED
    verdict = selectors_analysis.run_baseline_verdict(run=scheduled)
    assert verdict is not None and verdict.baseline_id == baseline.pk
    page = client_for(alice).get(scheduled.get_absolute_url()).content.decode()
    assert 'id="baseline-verdict"' in page and ">Scheduled</span>" in page
    listing = client_for(alice).get(reverse("runs-list"), {"trigger": "scheduled"})
    assert [r.pk for r in listing.context["runs"]] == [scheduled.pk]
