"""Baselines: the run every other run of a test plan is compared with."""

from __future__ import annotations

from django.db import transaction

from runs.models import Run, TestPlan


class BaselineError(Exception):
    """The run cannot be a baseline; the message is meant for the user."""


def plan_set_baseline(*, run: Run) -> TestPlan:
    """Make a finished ``run`` the baseline of the plan it belongs to."""
    if run.status != Run.Status.FINISHED:
        raise BaselineError(
            f"Run #{run.pk} is {run.get_status_display().lower()}; only a finished run can be a baseline."
        )
    if not run.plan_id:
        raise BaselineError(f"Run #{run.pk} no longer belongs to a test plan.")
    with transaction.atomic():
        plan = TestPlan.objects.select_for_update().get(pk=run.plan_id)
        plan.baseline_run = run
        plan.save(update_fields=["baseline_run", "updated_at"])
    return plan
