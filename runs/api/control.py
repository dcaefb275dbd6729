"""Live control of a running run: a new level, a stop early, the timeline of both."""

# No `from __future__ import annotations`: ninja reads the handlers' annotations at import.

from typing import Any

from django.http import HttpRequest
from ninja import Router
from ninja.errors import HttpError

from runs import access
from runs.api._common import responses
from runs.api.schemas.common import Error
from runs.api.schemas.control import ControlIn, ControlOut, TimelineOut
from runs.models import Run, RunControl
from runs.services.control import ControlConflict, ControlRefused, run_control_set, run_stop_early

router = Router(tags=["runs"])


def _out(entry: RunControl) -> dict[str, Any]:
    return {
        "id": entry.pk,
        "run": entry.run_id,
        "kind": entry.kind,
        "value": entry.value,
        "previous": entry.previous,
        "state": entry.state,
        "at_s": entry.at_s,
        "requested_at": entry.requested_at,
        "applied_at": entry.applied_at,
        "message": entry.message,
    }


def _refused(exc: ControlRefused) -> HttpError:
    return HttpError(409 if isinstance(exc, ControlConflict) else 400, str(exc))


@router.post(
    "/{int:run_id}/control",
    response=responses({200: ControlOut, 400: Error, 409: Error}),
    url_name="runs-control",
)
def run_control(request: HttpRequest, run_id: int, payload: ControlIn) -> dict[str, Any]:
    """Change the level of a running constant run: ``users`` or ``rate``. The load generator
    applies it within about a second; ``state`` and ``at_s`` then say when (GET the timeline).
    400: a bad value or one above the team's caps; 409: the run cannot change now."""
    run = access.object_for(request, Run.objects.all(), run_id, role=access.EDITOR)
    if (payload.users is None) == (payload.rate is None):
        raise HttpError(
            400, "Give exactly one of users (a users profile) and rate (an arrival-rate profile)."
        )
    wanted = "rate" if run.is_open_model else "users"
    value = payload.rate if wanted == "rate" else payload.users
    if value is None:
        raise HttpError(
            400, f"Run #{run.pk} takes {'a rate' if wanted == 'rate' else 'users'}, not the other."
        )
    try:
        return _out(run_control_set(run=run, value=value, user=request.user))
    except ControlRefused as exc:
        raise _refused(exc) from None


@router.post(
    "/{int:run_id}/stop-early", response=responses({200: ControlOut, 409: Error}), url_name="runs-stop-early"
)
def run_stop(request: HttpRequest, run_id: int) -> dict[str, Any]:
    """Stop a running run now; it ends ``finished`` with every measured second kept and
    analysed (a cancel ends it ``cancelled``)."""
    run = access.object_for(request, Run.objects.all(), run_id, role=access.EDITOR)
    try:
        return _out(run_stop_early(run=run, user=request.user))
    except ControlRefused as exc:
        raise _refused(exc) from None


@router.get("/{int:run_id}/timeline", response=responses({200: TimelineOut}), url_name="runs-timeline")
def run_timeline(request: HttpRequest, run_id: int) -> dict[str, Any]:
    """Every change asked of the run, oldest first, with its state and when it was applied."""
    run = access.object_for(request, Run.objects.all(), run_id)
    entries = RunControl.objects.filter(run=run).order_by("requested_at", "id")
    return {"run": run.pk, "items": [_out(e) for e in entries]}
