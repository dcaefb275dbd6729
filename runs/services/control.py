"""Live control of a running run: a new level (users or arrival rate), or a stop early.

The page or the API records the wish as a ``RunControl`` row (the run's timeline) after checking
it (:func:`run_control_set`, :func:`run_stop_early`); the run's parent (``runs.engine.runner``)
takes pending rows once a second (:func:`run_controls_take`), sends a level to its load generator
and records its answer (:func:`run_control_acknowledge`): the time the generator applied it is
where the level starts. A stop early ends the run ``finished``, every measured second kept.
Whatever is still open when the run ends is marked missed (:func:`run_controls_close`), so no
row stays pending.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from runs.core import control, profiles
from runs.models import Run, RunControl
from runs.services import audit, caps


class ControlRefused(Exception):
    """The change cannot be made; the message says why and what to do. Nothing was recorded."""


class ControlInvalid(ControlRefused):
    """The value is not a level this run may take (a bad number, above the caps)."""


class ControlConflict(ControlRefused):
    """The run cannot change now (not running, already stopping, distributed, not constant)."""


def _profile(run: Run) -> tuple[str, dict[str, Any]]:
    profile = (run.snapshot or {}).get("profile") or {}
    return str(profile.get("kind", "")), dict(profile.get("params") or {})


def run_level(*, run: Run) -> float | None:
    """The level the run holds now, or will once its pending changes are applied: the last
    change asked for that was not refused or missed, else the planned level."""
    latest = (
        RunControl.objects.filter(run=run, kind__in=[RunControl.Kind.USERS, RunControl.Kind.RATE])
        .exclude(state__in=[RunControl.State.REFUSED, RunControl.State.MISSED])
        .order_by("-requested_at", "-id")
        .values_list("value", flat=True)
        .first()
    )
    if latest is not None:
        return float(latest)
    kind, params = _profile(run)
    try:
        plan = profiles.build_plan(kind, params)
    except (profiles.ProfileError, KeyError, TypeError, ValueError):
        return None
    return control.plan_level(plan) if control.is_controllable_plan(plan) else None


def _running(run: Run, what: str) -> Run:
    """The run, locked and fresh, if it is running; else :class:`ControlRefused`."""
    fresh = Run.objects.select_for_update().get(pk=run.pk)
    if fresh.status != Run.Status.RUNNING or fresh.cancel_requested:
        state = (
            "being cancelled" if fresh.cancel_requested and fresh.is_active else fresh.get_status_display()
        )
        raise ControlConflict(
            f"Run #{run.pk} is not running ({state.lower()}): its {what} cannot change now."
        )
    if RunControl.objects.filter(run=fresh, kind=RunControl.Kind.STOP).exists():
        raise ControlConflict(f"Run #{run.pk} is already stopping early.")
    return fresh


def run_control_set(*, run: Run, value: Any, user: Any = None) -> RunControl:
    """Ask the running ``run`` to hold a new level from now on: users (closed model) or
    iterations per second (open model). Raises :class:`ControlRefused`, recording nothing,
    when the run is not running, its profile is not constant, it is distributed, or the value
    is not a valid level within the team's caps."""
    kind, _ = _profile(run)
    if not control.is_controllable(kind):
        label = profiles.KIND_LABELS.get(kind, kind or "unknown")
        raise ControlConflict(
            "Only runs of a constant profile (constant users or constant arrival rate) can change "
            f"their load while they run; this run's profile is “{label}”. Stopping early works for every run."
        )
    if run.generators > 1:
        raise ControlConflict(
            f"Run #{run.pk} is spread over {run.generators} load generators; live changes are only "
            "supported on one generator. Stopping early works."
        )
    max_users = caps.caps_for(scope=caps.team_scope(team_id=run.team_id)).max_users
    try:
        new = control.check_value(kind, value, max_users=max_users)
    except control.ControlError as exc:
        raise ControlInvalid(str(exc)) from None
    unit = control.control_unit(kind)
    with transaction.atomic():
        fresh = _running(run, "load")
        current = run_level(run=fresh)
        if current is not None and abs(current - new) < 1e-9:
            shown = f"{new:g} iterations/s" if unit == "rate" else f"{int(new)} users"
            raise ControlInvalid(f"Run #{run.pk} already runs at {shown}; nothing to change.")
        entry = RunControl.objects.create(
            run=fresh,
            kind=RunControl.Kind.RATE if unit == "rate" else RunControl.Kind.USERS,
            value=new,
            previous=current,
            requested_by=user if getattr(user, "is_authenticated", False) else None,
        )
        audit.audit_record(
            action=audit.Action.RUN_CONTROL,
            obj=fresh,
            actor=entry.requested_by,
            details={"change": unit, "from": current, "to": new},
        )
    return entry


def run_stop_early(*, run: Run, user: Any = None) -> RunControl:
    """Ask the running ``run`` to stop now and end ``finished``, keeping every measured second.
    Raises :class:`ControlRefused` when it is not running (a queued run is cancelled instead)."""
    with transaction.atomic():
        fresh = _running(run, "course")
        entry = RunControl.objects.create(
            run=fresh,
            kind=RunControl.Kind.STOP,
            requested_by=user if getattr(user, "is_authenticated", False) else None,
        )
        audit.audit_record(
            action=audit.Action.RUN_CONTROL, obj=fresh, actor=entry.requested_by, details={"change": "stop"}
        )
    return entry


# -- the run's parent --------------------------------------------------------------------------
def run_controls_take(*, run_id: int) -> list[RunControl]:
    """The pending changes of ``run_id``, oldest first, marked sent (each is taken once)."""
    pending = list(
        RunControl.objects.filter(run_id=run_id, state=RunControl.State.PENDING)
        .select_related("requested_by")
        .order_by("requested_at", "id")
    )
    taken = []
    for entry in pending:
        if RunControl.objects.filter(pk=entry.pk, state=RunControl.State.PENDING).update(
            state=RunControl.State.SENT
        ):
            entry.state = RunControl.State.SENT
            taken.append(entry)
    return taken


def run_control_acknowledge(
    *, run_id: int, control_id: int, applied: bool, epoch: float, start_epoch: int, message: str = ""
) -> bool:
    """Record the load generator's answer to a change: applied at ``epoch`` (where the level
    starts on the run's timeline), or refused with ``message``. False for an unknown id."""
    at = dt.datetime.fromtimestamp(epoch, tz=dt.UTC)
    return bool(
        RunControl.objects.filter(pk=control_id, run_id=run_id, state__in=RunControl.OPEN).update(
            state=RunControl.State.APPLIED if applied else RunControl.State.REFUSED,
            applied_at=at,
            at_s=round(max(0.0, epoch - start_epoch), 3),
            message=message[:500],
        )
    )


def stop_message(*, entry: RunControl, at_s: float, planned_seconds: float) -> str:
    who = f" by {entry.requested_by.get_username()}" if entry.requested_by is not None else ""
    return (
        f"Stopped early{who} at {at_s:.0f} s of {planned_seconds:.0f} s planned; "
        "every measured second is kept and analysed."
    )


def run_controls_close(*, run_id: int) -> int:
    """Mark what the ended run never applied as missed; returns how many."""
    return RunControl.objects.filter(run_id=run_id, state__in=RunControl.OPEN).update(
        state=RunControl.State.MISSED,
        message="The run ended before the load generator applied it.",
        applied_at=None,
    )


def stop_applied(*, entry: RunControl, start_epoch: int | None) -> float:
    """Record that the parent began stopping the load now; returns the run time it did."""
    now = timezone.now()
    at_s = max(0.0, now.timestamp() - start_epoch) if start_epoch is not None else 0.0
    RunControl.objects.filter(pk=entry.pk).update(
        state=RunControl.State.APPLIED, applied_at=now, at_s=round(at_s, 3)
    )
    return at_s
