"""Scenarios with their request steps. Steps are validated by the scenario page's own forms."""

# No `from __future__ import annotations`: ninja reads the handlers' annotations at import.

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router
from ninja.errors import HttpError
from ninja.responses import Status
from ninja.pagination import paginate

from runs import access
from runs.api import schemas as s
from runs.api._common import Pagination, editable_team, form_error_items, invalid, merged, responses, team_filter
from runs.forms import ScenarioForm, StepForm
from runs.models import Scenario
from runs.services import catalog
from runs.services.catalog import SCENARIO_FIELDS

router = Router(tags=["scenarios"])


def _save(data: dict[str, Any], *, scenario: Scenario | None = None, team: Any = None, user: Any = None) -> Scenario:
    """Validate with ScenarioForm and one StepForm per step (as the page does), then save."""
    form = ScenarioForm({k: data[k] for k in SCENARIO_FIELDS if k in data}, instance=scenario)
    errors = form_error_items(form, ["body"]) if not form.is_valid() else []
    steps = []
    for i, step in enumerate(data["steps"]):
        step_form = StepForm(step)
        if step_form.is_valid():
            steps.append(step_form.cleaned_data)
        else:
            errors += form_error_items(step_form, ["body", "steps", i])
    if errors:
        raise invalid(errors)
    try:
        return catalog.scenario_save(data=form.cleaned_data, steps=steps, scenario=scenario, team=team, user=user)
    except catalog.CatalogError as exc:
        raise invalid([{"loc": ["body"], "msg": str(exc), "type": "value_error"}]) from None


def _current(scenario: Scenario) -> dict[str, Any]:
    out = {f: getattr(scenario, f) for f in SCENARIO_FIELDS}
    out["steps"] = s.ScenarioOut.resolve_steps(scenario)
    return out


@router.get("", response=responses({200: list[s.ScenarioOut]}), url_name="scenarios-list")
@paginate(Pagination)
def scenario_list(request: HttpRequest, team: int | None = Query(None)) -> Any:  # type: ignore[assignment]
    qs = access.visible(Scenario.objects.prefetch_related("steps"), user=request.user).order_by("name", "id")
    if team_filter(request, team) is not None:
        qs = qs.filter(team_id=team)
    return qs


@router.post("", response=responses({201: s.ScenarioOut}), url_name="scenarios-create")
def scenario_create(request: HttpRequest, payload: s.ScenarioCreate) -> tuple[int, Scenario]:
    team = editable_team(request, payload.team)
    return Status(201, _save(payload.dict(exclude={"team"}), team=team, user=request.user))


@router.get("/{int:scenario_id}", response=responses({200: s.ScenarioOut}), url_name="scenarios-detail")
def scenario_get(request: HttpRequest, scenario_id: int) -> Scenario:
    return access.object_for(request, Scenario.objects.all(), scenario_id)


@router.put("/{int:scenario_id}", response=responses({200: s.ScenarioOut}), url_name="scenarios-update")
def scenario_put(request: HttpRequest, scenario_id: int, payload: s.ScenarioIn) -> Scenario:
    scenario = access.object_for(request, Scenario.objects.all(), scenario_id, role=access.EDITOR)
    return _save(payload.dict(), scenario=scenario)


@router.patch("/{int:scenario_id}", response=responses({200: s.ScenarioOut}), url_name="scenarios-patch")
def scenario_patch(request: HttpRequest, scenario_id: int, payload: s.ScenarioPatch) -> Scenario:
    scenario = access.object_for(request, Scenario.objects.all(), scenario_id, role=access.EDITOR)
    return _save(merged(_current(scenario), payload), scenario=scenario)


@router.delete("/{int:scenario_id}", response=responses({204: None, 409: s.Error}), url_name="scenarios-delete")
def scenario_delete(request: HttpRequest, scenario_id: int) -> tuple[int, None]:
    scenario = access.object_for(request, Scenario.objects.all(), scenario_id, role=access.EDITOR)
    try:
        catalog.scenario_delete(scenario=scenario)
    except catalog.CatalogError as exc:
        raise HttpError(409, str(exc)) from None
    return Status(204, None)
