"""Runs: start, poll, cancel, results (series, endpoints, errors), analysis, comparison, baseline."""

# No `from __future__ import annotations`: ninja reads the handlers' annotations at import.

import dataclasses
import enum
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router
from ninja.errors import HttpError
from ninja.pagination import paginate
from ninja.responses import Status

from runs import access
from runs.api._common import Pagination, check_form, responses, team_filter
from runs.api.schemas.common import Error, RunStatus
from runs.api.schemas.runs import (
    AnalysisOut,
    BaselineOut,
    CompareOut,
    EndpointOut,
    ErrorOut,
    GeneratorsOut,
    PinIn,
    RunListItem,
    RunOut,
    RunStart,
    SeriesOut,
)
from runs.core.analysis.stored import jsonable
from runs.core.safety import Refused
from runs.forms.compare import RunsCompareForm
from runs.models import EndpointSummary, ErrorGroup, Run, TestPlan
from runs.selectors import analysis as selectors_analysis
from runs.selectors import runs as selectors
from runs.selectors.seconds import endpoint_known, endpoint_second_dicts, run_second_dicts
from runs.services.annotations import AnnotationError, annotations_clean
from runs.services.baseline import BaselineError, plan_set_baseline
from runs.services.retention import PinError, run_set_pinned
from runs.services.runs import RunError, run_cancel, run_create

router = Router(tags=["runs"])

MAX_T = 10**7  # seconds; far beyond any run (SCALETEST_MAX_RUN_SECONDS)


def start(request: HttpRequest, plan: TestPlan, payload: RunStart | None = None) -> Run:
    """``run_create``; its refusals become 400 (fix the plan) or 409 (refused now by safety);
    invalid annotations a 422 with the page's messages."""
    payload = payload or RunStart.model_validate({})
    try:
        annotations = annotations_clean(version=payload.version, tags=payload.tags, notes=payload.notes)
    except AnnotationError as exc:
        raise HttpError(422, str(exc)) from None
    try:
        return run_create(plan=plan, user=request.user, trigger=payload.trigger, annotations=annotations)
    except RunError as exc:
        raise HttpError(409 if isinstance(exc.__cause__, Refused) else 400, str(exc)) from None


def _run(request: HttpRequest, run_id: int, *, role: str = access.VIEWER) -> Run:
    return access.object_for(request, Run.objects.all(), run_id, role=role)


def plain(value: Any) -> Any:
    """Dataclasses and enums of the analysis as JSON-ready values (non-finite floats as strings)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return jsonable(value)


@router.get("", response=responses({200: list[RunListItem]}), url_name="runs-list")
@paginate(Pagination)
def run_list(
    request: HttpRequest,
    plan: int | None = Query(None, description="Runs of this plan"),  # type: ignore[assignment]
    status: RunStatus | None = Query(None),  # type: ignore[assignment]
    team: int | None = Query(None),  # type: ignore[assignment]
) -> Any:
    qs = access.visible(Run.objects.all(), user=request.user).only(*selectors.RUN_LIST_FIELDS, "team_id")
    if (team_id := team_filter(request, team)) is not None:
        qs = qs.filter(team_id=team_id)
    if plan is not None:
        qs = qs.filter(plan_id=plan) if access.is_id(plan) else qs.none()
    if status is not None:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")


@router.post("", response=responses({201: RunOut, 400: Error, 409: Error}), url_name="runs-start")
def run_start(request: HttpRequest, payload: RunStart) -> Status[Run]:
    """Start a plan given by ``plan`` (id) or ``plan_name`` (exact; ``team`` narrows it). A name
    that several of your plans share is a 409: give ``team`` or the id."""
    plans = TestPlan.objects.select_related("target", "scenario", "profile")
    if payload.plan is not None:
        plan = access.object_for(request, plans, payload.plan, role=access.EDITOR)
    elif payload.plan_name:
        found = access.visible(plans, user=request.user).filter(name=payload.plan_name)
        if (team_id := team_filter(request, payload.team)) is not None:
            found = found.filter(team_id=team_id)
        matches = list(found[:2])
        if not matches:
            raise HttpError(404, f"No test plan named “{payload.plan_name}”.")
        if len(matches) > 1:
            raise HttpError(
                409, f"Several of your plans are named “{payload.plan_name}”: give team or the plan's id."
            )
        plan = access.object_for(request, plans, matches[0].pk, role=access.EDITOR)
    else:
        raise HttpError(400, "Give plan (an id) or plan_name.")
    return Status(201, start(request, plan, payload))


COMPARE_BASELINE_HELP = (
    "The reference run (one of ids; default: the plan's baseline if among them, else the first)"
)


@router.get("/compare", response=responses({200: CompareOut, 400: Error}), url_name="runs-compare")
def runs_compare(
    request: HttpRequest,
    ids: str = Query(..., description="2–20 run ids, comma-separated: 3,5,9", max_length=300),  # type: ignore[assignment]
    baseline: int | None = Query(None, description=COMPARE_BASELINE_HELP),  # type: ignore[assignment]
) -> dict[str, Any]:
    """Verdicts of each run's steady-state p95 against the reference run, overall and per endpoint."""
    data = check_form(RunsCompareForm(request.GET), ["query"])
    try:
        result = selectors_analysis.runs_compare(
            runs=access.visible(Run.objects.all(), user=request.user),
            ids=data["ids"],
            reference_id=data.get("baseline"),
        )
    except selectors_analysis.RunsNotFound as exc:
        raise HttpError(404, f"No run #{exc.args[0][0]}.") from None
    return {
        "reference": result.reference_id,
        "runs": [
            {
                "id": r.run.pk,
                "plan_name": r.run.plan_name,
                "status": r.run.status,
                "closed_model": r.closed_model,
                "windows": plain(r.windows),
                "capacity": plain(r.capacity),
                "verdict": plain(r.verdict),
                "capacity_change": plain(r.capacity_change),
                "headline": (r.knee or {}).get("headline", ""),
                "series": plain(r.series),
            }
            for r in result.runs
        ],
        "endpoints": [
            {**plain(dataclasses.replace(row, comparison=None)), "comparison": plain(row.comparison)}
            for row in result.endpoint_rows
        ],
    }


@router.get("/{int:run_id}", response=responses({200: RunOut}), url_name="runs-detail")
def run_get(request: HttpRequest, run_id: int) -> Run:
    """Status, progress, totals, percentiles and threshold verdicts: what a CI client polls
    (``ci`` holds exactly what ``python3 -m runs.ci`` reads)."""
    return _run(request, run_id)


@router.post("/{int:run_id}/cancel", response=responses({200: RunOut, 409: Error}), url_name="runs-cancel")
def run_cancel_op(request: HttpRequest, run_id: int) -> Run:
    run = _run(request, run_id, role=access.EDITOR)
    if not run.is_active:
        raise HttpError(409, f"Run #{run.pk} has already ended ({run.get_status_display().lower()}).")
    return run_cancel(run=run)


@router.post(
    "/{int:run_id}/baseline", response=responses({200: BaselineOut, 409: Error}), url_name="runs-baseline"
)
def run_baseline(request: HttpRequest, run_id: int) -> dict[str, int]:
    """Make this finished run the baseline of its plan."""
    run = _run(request, run_id, role=access.EDITOR)
    try:
        plan = plan_set_baseline(run=run)
    except BaselineError as exc:
        raise HttpError(409, str(exc)) from None
    return {"plan": plan.pk, "baseline_run": run.pk}


@router.post("/{int:run_id}/pin", response=responses({200: RunOut, 409: Error}), url_name="runs-pin")
def run_pin(request: HttpRequest, run_id: int, payload: PinIn) -> Run:
    """Pin an ended run (``{"pinned": true}``: the retention policy keeps it at full
    resolution) or unpin it (``false``). Editors only; audited."""
    run = _run(request, run_id, role=access.EDITOR)
    try:
        return run_set_pinned(run=run, pinned=payload.pinned)
    except PinError as exc:
        raise HttpError(409, str(exc)) from None


SECOND_FIELDS = (
    "t",
    "users",
    "requests",
    "failures",
    "bytes",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "mean_ms",
    "dropped_iterations",
)
ENDPOINT_SECOND_FIELDS = ("t", "requests", "failures", "bytes", "p50_ms", "p95_ms", "p99_ms", "max_ms")


@router.get("/{int:run_id}/series", response=responses({200: SeriesOut}), url_name="runs-series")
def run_series(
    request: HttpRequest,
    run_id: int,
    endpoint: str | None = Query(None, max_length=1100, description='"METHOD name" from /endpoints'),  # type: ignore[assignment]
    from_: int | None = Query(None, alias="from", ge=0, le=MAX_T, description="First second (inclusive)"),  # type: ignore[assignment]
    to: int | None = Query(None, ge=0, le=MAX_T, description="Last second (inclusive)"),  # type: ignore[assignment]
) -> dict[str, Any]:
    """Per-second results as stored: all endpoints merged, or one endpoint."""
    run = _run(request, run_id)
    if endpoint is None:
        points = run_second_dicts(run=run, fields=SECOND_FIELDS, lo=from_, hi=to)
    else:
        method, _, name = endpoint.partition(" ")
        known = EndpointSummary.objects.filter(run=run, method=method, name=name).exists() or endpoint_known(
            run=run, endpoint=(method, name)
        )
        if not known:
            raise HttpError(404, f"Run #{run.pk} has no endpoint “{endpoint}”.")
        points = endpoint_second_dicts(
            run=run, fields=ENDPOINT_SECOND_FIELDS, lo=from_, hi=to, endpoint=(method, name)
        )
    return {
        "run": run.pk,
        "endpoint": endpoint,
        "interval_seconds": run.resolution_s,
        "points": points,
    }


@router.get("/{int:run_id}/generators", response=responses({200: GeneratorsOut}), url_name="runs-generators")
def run_generators(request: HttpRequest, run_id: int) -> dict[str, Any]:
    """What each load generator of a distributed run did, second by second (requests, failures,
    CPU): the per-generator charts' data. Empty for a one-generator run."""
    run = _run(request, run_id)
    return {"run": run.pk, "generators": run.generators, "points": selectors.run_generator_rows(run=run)}


@router.get(
    "/{int:run_id}/endpoints", response=responses({200: list[EndpointOut]}), url_name="runs-endpoints"
)
def run_endpoints(request: HttpRequest, run_id: int) -> list[dict[str, Any]]:
    """Whole-run figures per endpoint (merged live while the run is active)."""
    rows = selectors.run_endpoint_rows(run=_run(request, run_id))
    return [{**row, "endpoint": f"{row['method']} {row['name']}"} for row in rows]


@router.get("/{int:run_id}/errors", response=responses({200: list[ErrorOut]}), url_name="runs-errors")
def run_errors(request: HttpRequest, run_id: int) -> list[ErrorGroup]:
    return selectors.run_errors(run=_run(request, run_id))


@router.get("/{int:run_id}/analysis", response=responses({200: AnalysisOut}), url_name="runs-analysis")
def run_analysis(request: HttpRequest, run_id: int) -> dict[str, Any]:
    """The stored capacity analysis and the verdict against the plan's baseline."""
    run = _run(request, run_id)
    capacity = selectors_analysis.run_capacity(run=run)
    baseline = selectors_analysis.run_baseline_verdict(run=run) if capacity is not None else None
    return {
        "run": run.pk,
        "available": capacity is not None,
        "capacity": plain(capacity),
        "baseline": plain(baseline),
    }
