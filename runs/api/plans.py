"""Test plans (a target, a scenario and a profile of one team), and starting them."""

# No `from __future__ import annotations`: ninja reads the handlers' annotations at import.

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router
from ninja.pagination import paginate
from ninja.responses import Status

from runs import access
from runs.api._common import Pagination, check_form, editable_team, invalid, merged, responses, team_filter
from runs.api.runs import plain, start
from runs.api.schemas.common import Error
from runs.api.schemas.plans import PlanCreate, PlanIn, PlanOut, PlanPatch, TrendOut
from runs.api.schemas.runs import RunOut
from runs.forms.plans import TestPlanForm
from runs.models import Run, TestPlan
from runs.selectors import trend as selectors_trend
from runs.services import catalog
from runs.services.catalog import PLAN_FIELDS

router = Router(tags=["plans"])


def _validated(data: dict[str, Any], *, team: Any, instance: TestPlan | None = None) -> dict[str, Any]:
    """The plan form's checks: the target, scenario and profile must be the plan team's, the
    thresholds parse (text or stored list) and name the scenario's steps, generators in range."""
    return check_form(TestPlanForm({k: data.get(k) for k in PLAN_FIELDS}, team=team, instance=instance))


def _saved(save: Any) -> TestPlan:
    try:
        return save()  # type: ignore[no-any-return]
    except catalog.CatalogError as exc:
        raise invalid([{"loc": ["body"], "msg": str(exc), "type": "value_error"}]) from None


@router.get("", response=responses({200: list[PlanOut]}), url_name="plans-list")
@paginate(Pagination)
def plan_list(
    request: HttpRequest,
    team: int | None = Query(None),  # type: ignore[assignment]
    name: str | None = Query(None, description="Exact name", max_length=200),  # type: ignore[assignment]
) -> Any:
    qs = access.visible(TestPlan.objects.all(), user=request.user).order_by("name", "id")
    if (team_id := team_filter(request, team)) is not None:
        qs = qs.filter(team_id=team_id)
    if name is not None:
        qs = qs.filter(name=name)
    return qs


@router.post("", response=responses({201: PlanOut}), url_name="plans-create")
def plan_create(request: HttpRequest, payload: PlanCreate) -> Status[TestPlan]:
    team = editable_team(request, payload.team)
    data = _validated(payload.dict(), team=team)
    return Status(201, _saved(lambda: catalog.plan_create(team=team, data=data, user=request.user)))


@router.get("/{int:plan_id}", response=responses({200: PlanOut}), url_name="plans-detail")
def plan_get(request: HttpRequest, plan_id: int) -> TestPlan:
    return access.object_for(request, TestPlan.objects.all(), plan_id)


@router.get("/{int:plan_id}/trend", response=responses({200: TrendOut}), url_name="plans-trend")
def plan_trend(request: HttpRequest, plan_id: int) -> dict[str, Any]:
    """Every ended run of the plan on a time axis: what its trend page draws."""
    plan = access.object_for(request, TestPlan.objects.all(), plan_id)
    points = selectors_trend.plan_trend(plan=plan)
    return {"plan": plan.pk, "baseline_run": plan.baseline_run_id, "runs": [plain(p) for p in points]}


@router.put("/{int:plan_id}", response=responses({200: PlanOut}), url_name="plans-update")
def plan_put(request: HttpRequest, plan_id: int, payload: PlanIn) -> TestPlan:
    plan = access.object_for(request, TestPlan.objects.all(), plan_id, role=access.EDITOR)
    data = _validated(payload.dict(), team=plan.team, instance=plan)
    return _saved(lambda: catalog.plan_update(plan=plan, data=data))


@router.patch("/{int:plan_id}", response=responses({200: PlanOut}), url_name="plans-patch")
def plan_patch(request: HttpRequest, plan_id: int, payload: PlanPatch) -> TestPlan:
    plan = access.object_for(request, TestPlan.objects.all(), plan_id, role=access.EDITOR)
    current = {
        "name": plan.name,
        "target": plan.target_id,
        "scenario": plan.scenario_id,
        "profile": plan.profile_id,
        "generators": plan.generators,
        "notes": plan.notes,
        "thresholds": plan.thresholds,
    }
    data = _validated(merged(current, payload), team=plan.team, instance=plan)
    return _saved(lambda: catalog.plan_update(plan=plan, data=data))


@router.delete("/{int:plan_id}", response=responses({204: None}), url_name="plans-delete")
def plan_delete(request: HttpRequest, plan_id: int) -> Status[None]:
    """Deletes the plan; its runs are kept (with their snapshot and the plan's name)."""
    plan = access.object_for(request, TestPlan.objects.all(), plan_id, role=access.EDITOR)
    catalog.plan_delete(plan=plan)
    return Status(204, None)


@router.post(
    "/{int:plan_id}/runs",
    response=responses({201: RunOut, 400: Error, 409: Error}),
    url_name="plans-start",
    summary="Start a run of the plan",
)
def plan_start(request: HttpRequest, plan_id: int) -> Status[Run]:
    """Queues a run (editor role). 400 when the plan cannot run as it is (no steps, invalid
    profile); 409 when the safety checks refuse it now (caps, unverified or unsafe target)."""
    plan = access.object_for(
        request, TestPlan.objects.select_related("target", "scenario", "profile"), plan_id, role=access.EDITOR
    )
    return Status(201, start(request, plan))
