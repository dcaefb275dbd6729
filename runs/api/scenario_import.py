"""POST /api/v1/scenarios/import: steps from a cURL command, a HAR file or an OpenAPI document.

Without ``save`` it answers the preview (steps, flagged secret names, warnings) and changes
nothing; with ``save`` it creates the scenario through the same validation as POST /scenarios,
leaving flagged secret values out unless ``keep_secrets``."""

# No `from __future__ import annotations`: ninja reads the handlers' annotations at import.

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Schema
from ninja.responses import Status

from runs.api._common import editable_team, invalid, responses
from runs.api.scenarios import _save, router
from runs.api.schemas.common import ValidationErrors
from runs.api.schemas.scenarios import ScenarioOut
from runs.services import scenario_import as importer


class ScenarioImportIn(Schema):
    format: Literal["auto", "curl", "har", "openapi"] = Field("auto", description="What ``content`` is.")
    content: str = Field(
        ...,
        min_length=1,
        max_length=importer.MAX_IMPORT_BYTES,
        description="The cURL command(s), the HAR file's JSON or the OpenAPI 3 document (JSON or YAML).",
        examples=["curl 'https://shop.example.com/api/items?page=2' -H 'Accept: application/json'"],
    )
    base_url: str = Field(
        "", max_length=500, description="HAR: keep only requests under it. OpenAPI: instead of servers[0]."
    )
    include_static: bool = Field(False, description="HAR: keep images, fonts, style sheets and scripts.")
    save: bool = Field(False, description="Create the scenario (201); otherwise only the preview (200).")
    keep_secrets: bool = Field(
        False, description="Keep flagged credential values in the steps (stored as plain text)."
    )
    team: int | None = Field(None, description="Team id (editor role); default: your first team.")
    name: str = Field("", max_length=200, description="Scenario name (save); default: from the input.")
    mode: Literal["weighted", "sequence"] | None = Field(
        None, description="Step order (save); default: sequence for HAR, weighted otherwise."
    )


class ImportedStepOut(Schema):
    name: str
    method: str
    path: str
    query: dict[str, Any]
    headers: dict[str, str]
    body_type: str
    body: str
    url: str = Field(..., description="The full URL the step was made from.")
    secret_names: list[str] = Field(
        ..., description="Headers (Name) and query parameters (?name) whose values look like credentials."
    )


class ScenarioImportPreviewOut(Schema):
    format: str
    base_url: str = Field(
        ..., description="Where the requests were made; the plan's target should point there."
    )
    warnings: list[str]
    steps: list[ImportedStepOut]


@router.post(
    "/import",
    response=responses({200: ScenarioImportPreviewOut, 201: ScenarioOut, 422: ValidationErrors}),
    url_name="scenarios-import",
)
def scenario_import(request: HttpRequest, payload: ScenarioImportIn) -> Any:
    """Preview (or, with ``save``, create) a scenario from cURL, a HAR file or an OpenAPI document."""
    team = editable_team(request, payload.team)
    try:
        result = importer.scenario_import_parse(
            text=payload.content,
            format=payload.format,
            base_url=payload.base_url,
            include_static=payload.include_static,
        )
    except importer.ScenarioImportError as exc:
        raise invalid([{"loc": ["body", "content"], "msg": str(exc), "type": "value_error"}]) from None
    if not payload.save:
        return {
            "format": result.format,
            "base_url": result.base_url,
            "warnings": result.warnings,
            "steps": [step.to_dict() for step in result.steps],
        }
    keep = [f"{i}:{name}" for i, step in enumerate(result.steps) for name in step.secret_names]
    steps, _ = importer.imported_steps_chosen(
        result.steps, include=range(len(result.steps)), keep_secrets=keep if payload.keep_secrets else []
    )
    data = {
        "name": payload.name.strip() or importer.default_name(result),
        "description": "",
        "kind": "steps",
        "mode": payload.mode or ("sequence" if result.format == "har" else "weighted"),
        "user_class": "fast",
        "think_time_min": 0.0,
        "think_time_max": 0.0,
        "steps": [{**step, "weight": 1, "expected_statuses": "200-399", "extract": ""} for step in steps],
    }
    return Status(201, _save(data, team=team, user=request.user))
