"""Run lifecycle: create (with an immutable snapshot), claim, cancel, finish."""

from __future__ import annotations

import logging
import socket
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from runs.core import profiles
from runs.models import Run, Scenario, TestPlan
from runs.services import audit, caps, dispatch, safety
from runs.services.annotations import Annotations
from runs.services.catalog import SOURCE_FIELDS, STEP_FIELDS, TARGET_FIELDS
from runs.services.control import run_controls_close
from runs.services.generators import generators_require
from runs.services.metric_sources import metric_sources_snapshot
from runs.services.results import run_summarise
from runs.services.scenarios import locustfile_allowed

log = logging.getLogger(__name__)


class RunError(Exception):
    """A run cannot be started or changed; the message is meant for the user."""


def plan_snapshot(*, plan: TestPlan) -> dict[str, Any]:
    """Everything a run needs, copied out of the plan, so later edits never rewrite history."""
    target = plan.target
    scenario = plan.scenario
    profile = plan.profile
    built = profile.plan()
    return {
        "version": 1,
        "plan": {"id": plan.pk, "name": plan.name, "notes": plan.notes},
        "generators": plan.generators,
        "target": {
            "id": target.pk,
            **{f: getattr(target, f) for f in TARGET_FIELDS},
            "headers": dict(target.headers or {}),
        },
        # Server-side metrics read during the run (runs.engine.metrics).
        "metric_sources": metric_sources_snapshot(target=target),
        "scenario": {
            "id": scenario.pk,
            "name": scenario.name,
            "kind": scenario.kind,
            "mode": scenario.mode,
            "user_class": scenario.user_class,
            "think_time_min": scenario.think_time_min,
            "think_time_max": scenario.think_time_max,
            **({"locustfile": scenario.locustfile} if scenario.kind == Scenario.Kind.LOCUSTFILE else {}),
            "sources": [
                {**{f: getattr(s, f) for f in SOURCE_FIELDS}, "columns": list(s.columns)}
                for s in scenario.sources.all()
            ],
            "steps": [
                {
                    **{f: getattr(step, f) for f in STEP_FIELDS},
                    "name": step.display_name,
                    "query": dict(step.query or {}),
                    "headers": dict(step.headers or {}),
                    "extract": list(step.extract or []),
                }
                for step in scenario.steps.all()
            ],
        },
        "profile": {
            "id": profile.pk,
            "name": profile.name,
            "kind": profile.kind,
            "params": dict(profile.params),
            "duration": built.duration,
            "peak_users": built.peak_users,
        },
        # Validated on save; copied as stored (runs.core.thresholds.parse_thresholds reads it).
        "thresholds": [dict(item) for item in (plan.thresholds or [])],
    }


def run_create(
    *,
    plan: TestPlan,
    user: Any = None,
    trigger: str = Run.Trigger.MANUAL,
    annotations: Annotations | None = None,
) -> Run:
    """Create a queued run of ``plan`` and enqueue its task once the row is committed.

    ``annotations`` (version, tags, notes) are validated by ``annotations_clean`` beforehand."""
    if trigger not in Run.Trigger.values:
        raise RunError(f"Unknown trigger “{trigger}”.")
    if plan.scenario.kind == Scenario.Kind.LOCUSTFILE:
        if not locustfile_allowed(team=plan.team):
            raise RunError(
                "Locustfile scenarios are not allowed for this team; "
                "an operator can allow them in the admin. No load was sent."
            )
        if plan.profile.kind in profiles.OPEN_MODEL_KINDS:
            raise RunError("A locustfile scenario runs with a user-based load profile, not an arrival rate.")
    elif not plan.scenario.steps.exists():
        raise RunError("The scenario has no request steps; add at least one before running.")
    try:
        profiles.validate_profile(
            plan.profile.kind,
            plan.profile.params,
            max_users=settings.SCALETEST_MAX_USERS,
            max_seconds=settings.SCALETEST_MAX_RUN_SECONDS,
        )
    except profiles.ProfileError as exc:
        raise RunError(f"The load profile is invalid: {exc}") from exc
    generators_check(generators=plan.generators, profile_kind=plan.profile.kind)
    snapshot = plan_snapshot(plan=plan)
    try:
        # Before anything is queued: enough generators connected, the target's addresses, its
        # ownership proof, the caps.
        generators_require(generators=plan.generators)
        safety.target_preflight(target=snapshot["target"])
        with transaction.atomic():
            # The team's caps first (its message names the team's limits), then the server's.
            team_scope = caps.team_scope(team_id=plan.team_id)
            caps.scope_lock(scope=caps.GLOBAL)
            caps.caps_check(scope=team_scope, snapshot=snapshot)
            caps.caps_check(scope=caps.GLOBAL, snapshot=snapshot)
            run = Run.objects.create(
                team_id=plan.team_id,
                plan=plan,
                plan_name=plan.name,
                snapshot=snapshot,
                planned_seconds=snapshot["profile"]["duration"],
                generators=plan.generators,
                created_by=user if getattr(user, "is_authenticated", False) else None,
                enqueued_at=timezone.now(),
                trigger=trigger,
                version=annotations.version if annotations else "",
                tags=annotations.tags if annotations else [],
                notes=annotations.notes if annotations else "",
            )
            audit.audit_record(
                action=audit.Action.RUN_START, obj=run, actor=run.created_by, via=audit.TRIGGER_VIA[trigger]
            )
            run_id = run.pk
            # robust: a broker that is down must not turn a committed run into an error page;
            # the run stays queued and the reaper sends it again (runs_requeue_lost).
            transaction.on_commit(lambda: dispatch.execute_run_send(run_id), robust=True)
    except safety.Refused as exc:
        raise RunError(str(exc)) from exc
    return run


def generators_check(*, generators: int, profile_kind: str) -> None:
    """Raise :class:`RunError` unless a plan may run on ``generators`` generator processes."""
    limit = settings.SCALETEST_MAX_GENERATORS
    if not 1 <= generators <= limit:
        raise RunError(
            f"Generators must be between 1 and {limit} (SCALETEST_MAX_GENERATORS); got {generators}."
        )
    if generators > 1 and profiles.is_search(profile_kind):
        raise RunError("A capacity search runs on one generator: set generators to 1.")
    if generators > 1 and profiles.is_open_model(profile_kind):
        raise RunError(
            "Arrival-rate profiles run on one generator: set generators to 1, or use a users profile "
            "to spread the load over several generators."
        )


def run_claim(*, run_id: int) -> bool:
    """Move a queued run to running. False when another delivery (or a cancel) got there first."""
    now = timezone.now()
    claimed = Run.objects.filter(pk=run_id, status=Run.Status.QUEUED, cancel_requested=False).update(
        status=Run.Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        generator_host=socket.gethostname()[:255],
    )
    return claimed == 1


def run_cancel(*, run: Run) -> Run:
    """Cancel a run. A queued run ends at once; a running one is stopped by its worker."""
    cancelled = Run.objects.filter(pk=run.pk, status=Run.Status.QUEUED).update(
        status=Run.Status.CANCELLED, cancel_requested=True, finished_at=timezone.now()
    )
    cancelled += Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING).update(cancel_requested=True)
    run.refresh_from_db()
    if cancelled:
        audit.audit_record(action=audit.Action.RUN_CANCEL, obj=run, details={"status": run.status})
    return run


def run_heartbeat(*, run_id: int) -> bool:
    """Touch the heartbeat; returns whether a cancel has been asked for."""
    Run.objects.filter(pk=run_id, status=Run.Status.RUNNING).update(heartbeat_at=timezone.now())
    return Run.objects.filter(pk=run_id, cancel_requested=True).exists()


def run_finish(*, run_id: int, status: str, error_message: str = "") -> None:
    """End a running run with ``status``; a run that already ended is left as it is."""
    assert status in (Run.Status.FINISHED, Run.Status.FAILED, Run.Status.CANCELLED)
    try:
        run_summarise(run_id=run_id)
    except Exception:
        # A failing summary must not leave the run "running": end it, say so, keep the data.
        # If the database itself is down, the update below fails too and the caller retries.
        log.exception("run %s: summarising failed", run_id)
        note = "The whole-run summary could not be computed; the per-second results are stored."
        error_message = f"{error_message}\n{note}" if error_message else note
    ended = Run.objects.filter(pk=run_id, status=Run.Status.RUNNING).update(
        status=status, finished_at=timezone.now(), error_message=error_message[:5000], current_users=0
    )
    run_controls_close(run_id=run_id)
    if ended:
        from runs.services.notifications import notifications_run_ended

        notifications_run_ended(run_id=run_id)
