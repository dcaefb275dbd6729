"""Scenarios with their request steps and data sources, validated by the scenario page's own
forms and formsets (the JSON body becomes the page's POST), so every message is the page's."""

# No `from __future__ import annotations`: ninja reads the handlers' annotations at import.

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest
from ninja import Query, Router
from ninja.errors import HttpError
from ninja.pagination import paginate
from ninja.responses import Status

from runs import access
from runs.api._common import (
    Pagination,
    editable_team,
    form_error_items,
    invalid,
    merged,
    responses,
    team_filter,
)
from runs.api.schemas.common import Error
from runs.api.schemas.scenarios import ScenarioCreate, ScenarioIn, ScenarioOut, ScenarioPatch
from runs.forms.scenarios import (
    LOCUSTFILE_NOT_ALLOWED,
    ScenarioForm,
    StepForm,
    scenario_variables_check,
    source_formset,
    step_formset,
)
from runs.models import Scenario, Team
from runs.services import catalog
from runs.services.catalog import SCENARIO_FIELDS
from runs.services.scenarios import locustfile_allowed

router = Router(tags=["scenarios"])


SOURCE_FIELD_NAMES = {"csv_file": "csv", "source_id": "id"}  # the page's field names → the API's


def _extract_text(value: Any) -> str:
    """A step's ``extract`` as the page's text (objects become its lines)."""
    if isinstance(value, str):
        return value
    lines = []
    for rule in value:
        if any("\n" in part or "\r" in part for part in (rule["var"], rule["expr"])):
            raise ValueError("An extraction cannot contain a line break.")
        lines.append(f"{rule['var']} = {rule['source']}:{rule['expr']}")
    return "\n".join(lines)


def _post_data(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """The scenario page's POST (form fields, step and source formsets) and uploaded files for
    ``data``, plus the errors found converting it. Every row counts (none is an untouched blank)."""
    post: dict[str, Any] = {k: data[k] for k in SCENARIO_FIELDS if k in data}
    files: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    steps, sources = data.get("steps") or [], data.get("sources") or []
    post.update({"steps-TOTAL_FORMS": len(steps), "steps-INITIAL_FORMS": len(steps)})
    for i, step in enumerate(steps):
        for field in StepForm.Meta.fields:
            post[f"steps-{i}-{field}"] = step.get(field)
        try:
            post[f"steps-{i}-extract"] = _extract_text(step.get("extract") or "")
        except ValueError as exc:
            errors.append({"loc": ["body", "steps", i, "extract"], "msg": str(exc), "type": "value_error"})
    post.update({"sources-TOTAL_FORMS": len(sources), "sources-INITIAL_FORMS": len(sources)})
    for i, source in enumerate(sources):
        values = source.get("values") or ""
        post.update(
            {
                f"sources-{i}-kind": source.get("kind"),
                f"sources-{i}-mode": source.get("mode"),
                f"sources-{i}-variable": source.get("variable") or "",
                f"sources-{i}-values": values if isinstance(values, str) else "\n".join(values),
                f"sources-{i}-source_id": source.get("id"),
            }
        )
        if source.get("csv") is not None:
            files[f"sources-{i}-csv_file"] = SimpleUploadedFile(
                source.get("filename") or "data.csv", source["csv"].encode(), content_type="text/csv"
            )
        if not isinstance(values, str) and any("\n" in v or "\r" in v for v in values):
            errors.append(
                {
                    "loc": ["body", "sources", i, "values"],
                    "msg": "A value cannot contain a line break.",
                    "type": "value_error",
                }
            )
    return post, files, errors


def _formset_errors(
    formset: Any, loc: list[str | int], names: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    items = [{"loc": loc, "msg": str(m), "type": "value_error"} for m in formset.non_form_errors()]
    for i, form in enumerate(formset.forms):
        for field, messages in form.errors.items():
            where = [*loc, i] if field == NON_FIELD_ERRORS else [*loc, i, (names or {}).get(field, field)]
            items.extend({"loc": where, "msg": str(m), "type": "value_error"} for m in messages)
    return items


def _save(
    data: dict[str, Any], *, team: Team, scenario: Scenario | None = None, user: Any = None
) -> Scenario:
    """Validate as the scenario page does (its form, step and data source formsets, then
    ``scenario_variables_check``), then save with the same service."""
    allowed = locustfile_allowed(team=team)
    if data.get("kind") == Scenario.Kind.LOCUSTFILE and not allowed:
        raise invalid([{"loc": ["body", "kind"], "msg": LOCUSTFILE_NOT_ALLOWED, "type": "value_error"}])
    post, files, errors = _post_data(data)
    if errors:
        raise invalid(errors)
    form = ScenarioForm(post, instance=scenario, locustfiles_allowed=allowed)
    steps = step_formset(data=post)
    sources = source_formset(data=post, files=files, scenario=scenario)
    errors = form_error_items(form, ["body"]) if not form.is_valid() else []
    is_locustfile = post.get("kind") == Scenario.Kind.LOCUSTFILE
    if not is_locustfile:  # a locustfile scenario has neither steps nor data sources
        if not steps.is_valid():
            errors += _formset_errors(steps, ["body", "steps"])
        if not sources.is_valid():
            errors += _formset_errors(sources, ["body", "sources"], SOURCE_FIELD_NAMES)
        if not errors and not scenario_variables_check(form, steps, sources):
            errors += _formset_errors(steps, ["body", "steps"])
    if errors:
        raise invalid(errors)
    try:
        return catalog.scenario_save(
            data=form.cleaned_data,
            steps=[] if is_locustfile else steps.steps(),
            sources=[] if is_locustfile else sources.sources(),
            scenario=scenario,
            team=team,
            user=user,
        )
    except catalog.CatalogError as exc:
        raise invalid([{"loc": ["body"], "msg": str(exc), "type": "value_error"}]) from None


def _current(scenario: Scenario) -> dict[str, Any]:
    out = {f: getattr(scenario, f) for f in SCENARIO_FIELDS}
    out["steps"] = ScenarioOut.resolve_steps(scenario)
    out["sources"] = [
        {
            "id": source.pk,
            "kind": source.kind,
            "mode": source.mode,
            "filename": source.filename,
            "variable": source.columns[0] if source.kind == "list" else "",
            "values": [row[0] for row in source.rows] if source.kind == "list" else "",
        }
        for source in scenario.sources.all()
    ]
    return out


@router.get("", response=responses({200: list[ScenarioOut]}), url_name="scenarios-list")
@paginate(Pagination)
def scenario_list(request: HttpRequest, team: int | None = Query(None)) -> Any:  # type: ignore[assignment]
    qs = access.visible(Scenario.objects.prefetch_related("steps", "sources"), user=request.user).order_by(
        "name", "id"
    )
    if (team_id := team_filter(request, team)) is not None:
        qs = qs.filter(team_id=team_id)
    return qs


@router.post("", response=responses({201: ScenarioOut}), url_name="scenarios-create")
def scenario_create(request: HttpRequest, payload: ScenarioCreate) -> Status[Scenario]:
    team = editable_team(request, payload.team)
    return Status(201, _save(payload.dict(exclude={"team"}), team=team, user=request.user))


@router.get("/{int:scenario_id}", response=responses({200: ScenarioOut}), url_name="scenarios-detail")
def scenario_get(request: HttpRequest, scenario_id: int) -> Scenario:
    return access.object_for(request, Scenario.objects.all(), scenario_id)


@router.put("/{int:scenario_id}", response=responses({200: ScenarioOut}), url_name="scenarios-update")
def scenario_put(request: HttpRequest, scenario_id: int, payload: ScenarioIn) -> Scenario:
    scenario = access.object_for(request, Scenario.objects.all(), scenario_id, role=access.EDITOR)
    return _save(payload.dict(), team=scenario.team, scenario=scenario)


@router.patch("/{int:scenario_id}", response=responses({200: ScenarioOut}), url_name="scenarios-patch")
def scenario_patch(request: HttpRequest, scenario_id: int, payload: ScenarioPatch) -> Scenario:
    scenario = access.object_for(request, Scenario.objects.all(), scenario_id, role=access.EDITOR)
    return _save(merged(_current(scenario), payload), team=scenario.team, scenario=scenario)


@router.delete("/{int:scenario_id}", response=responses({204: None, 409: Error}), url_name="scenarios-delete")
def scenario_delete(request: HttpRequest, scenario_id: int) -> Status[None]:
    scenario = access.object_for(request, Scenario.objects.all(), scenario_id, role=access.EDITOR)
    try:
        catalog.scenario_delete(scenario=scenario)
    except catalog.CatalogError as exc:
        raise HttpError(409, str(exc)) from None
    return Status(204, None)


# POST /scenarios/import lives in its own module; importing it registers it on this router.
from runs.api import scenario_import as _scenario_import  # noqa: E402, F401
