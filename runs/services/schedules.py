"""Scheduled runs: a plan's cron expression, and starting the plans that are due.

Celery beat calls ``schedules_start_due`` every 30 s (runs.tasks.start_due_schedules). Each due
plan is *claimed* in the database first: its ``schedule_next_at`` moves to the next time in one
UPDATE that matches only the value just read, so two beats, a redelivered message or two
workers never start it twice. Then ``run_create`` runs with its usual checks (caps, target
safety, profile limits); a refusal is kept on the plan (``schedule_last_error``), not raised.
Times missed while beat was down are skipped, not caught up: a backlog of load tests fired at
once would be the wrong kind of load.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from runs.core import cron
from runs.models import Run, TestPlan
from runs.services.runs import RunError, run_create

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScheduleOutcome:
    plan_id: int
    run_id: int | None
    error: str


def schedule_next_times(*, expression: str, after: datetime | None = None, count: int = 3) -> list[datetime]:
    """The next ``count`` start times of ``expression`` in settings.TIME_ZONE (raises CronError)."""
    return cron.cron_next_times(
        cron.cron_parse(expression), after=after or timezone.now(), tz=settings.TIME_ZONE, count=count
    )


def plan_set_schedule(*, plan: TestPlan, expression: str) -> TestPlan:
    """Set (or, with a blank expression, remove) the plan's schedule. Raises CronError."""
    expression = " ".join((expression or "").split())
    if not expression:
        plan.schedule, plan.schedule_next_at = "", None
    else:
        nxt = schedule_next_times(expression=expression, count=1)
        plan.schedule = cron.cron_parse(expression).expression
        plan.schedule_next_at = nxt[0] if nxt else None
    plan.schedule_last_error = ""
    plan.save(update_fields=["schedule", "schedule_next_at", "schedule_last_error", "updated_at"])
    return plan


def _claim(*, plan_id: int, expression: str, due_at: datetime | None, now: datetime) -> bool:
    try:
        nxt = schedule_next_times(expression=expression, after=now, count=1)
    except cron.CronError:
        nxt = []
    claimed = TestPlan.objects.filter(
        pk=plan_id, schedule=expression, schedule_next_at=due_at, schedule_next_at__lte=now
    ).update(schedule_next_at=nxt[0] if nxt else None, schedule_last_at=now)
    return claimed == 1


def schedules_start_due(*, now: datetime | None = None) -> list[ScheduleOutcome]:
    """Start one run of every plan whose schedule is due; each plan is claimed before it starts."""
    now = now or timezone.now()
    due = list(
        TestPlan.objects.filter(schedule_next_at__lte=now)
        .exclude(schedule="")
        .order_by("schedule_next_at", "pk")
        .values_list("pk", "schedule", "schedule_next_at")
    )
    outcomes = []
    for plan_id, expression, due_at in due:
        if not _claim(plan_id=plan_id, expression=expression, due_at=due_at, now=now):
            continue  # another beat (or a redelivery) has it
        plan = TestPlan.objects.select_related("target", "scenario", "profile").filter(pk=plan_id).first()
        if plan is None:  # deleted since the claim
            continue
        try:
            run = run_create(plan=plan, user=None, trigger=Run.Trigger.SCHEDULED)
        except RunError as exc:
            error = str(exc)
        except Exception:  # noqa: BLE001 - one broken plan must not stop the others
            log.exception("plan %s: scheduled start failed", plan_id)
            error = "The scheduled start failed with an internal error; see the worker's log."
        else:
            TestPlan.objects.filter(pk=plan_id).update(schedule_last_run=run, schedule_last_error="")
            outcomes.append(ScheduleOutcome(plan_id=plan_id, run_id=run.pk, error=""))
            continue
        TestPlan.objects.filter(pk=plan_id).update(
            schedule_last_error=f"{now:%Y-%m-%d %H:%M %Z}: {error}"[:2000]
        )
        outcomes.append(ScheduleOutcome(plan_id=plan_id, run_id=None, error=error))
    return outcomes
