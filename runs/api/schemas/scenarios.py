"""API schemas of scenarios, their steps and data sources."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Field, Schema

from runs.api.schemas.common import Method, Name
from runs.core.engine.scenario_vars import MAX_SOURCE_BYTES
from runs.services.catalog import STEP_FIELDS


class ExtractionIO(Schema):
    var: str = Field(..., max_length=100, description="The variable later steps use as ${var}.")
    source: Literal["json", "header", "regex"]
    expr: str = Field(
        ..., max_length=1000, description="Dotted JSON path, header name, or regex (one group)."
    )


class StepIO(Schema):
    name: str = Field("", max_length=200, description="Shown in results; defaults to the path.")
    method: Method = "GET"
    path: str = Field("/", min_length=1, max_length=1000)
    query: dict[str, str | int | float | bool | None | list[str | int | float]] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    body_type: Literal["none", "json", "text"] = "none"
    body: str = ""
    weight: int = Field(1, ge=1, le=1000)
    expected_statuses: str = Field("200-399", min_length=1, max_length=200, examples=["200-299,304"])
    extract: list[ExtractionIO] = Field(
        default_factory=list,
        description="Values to take from the response for later steps (sequence mode only).",
    )


class StepIn(StepIO):
    extract: str | list[ExtractionIO] = Field(  # type: ignore[assignment]
        default_factory=list,
        description="As objects, or as the page's text: one rule per line, "
        "“name = json:dotted.path”, “name = header:Name” or “name = regex:pattern”.",
        examples=["token = json:access_token"],
    )


SourceKind = Literal["list", "csv"]


SourceMode = Literal["sequential", "random"]


class SourceOut(Schema):
    id: int
    kind: SourceKind
    mode: SourceMode
    filename: str
    columns: list[str] = Field(..., description="The variable names it defines.")
    row_count: int
    values: list[str] | None = Field(..., description="A list source's values; null for a CSV file.")

    @staticmethod
    def resolve_row_count(obj: Any) -> int:
        return len(obj.rows)

    @staticmethod
    def resolve_values(obj: Any) -> list[str] | None:
        return [row[0] for row in obj.rows] if obj.kind == "list" else None


class SourceIn(Schema):
    id: int | None = Field(
        None, description="A saved CSV source of this scenario to keep as it is (then omit csv)."
    )
    kind: SourceKind = "list"
    mode: SourceMode = "sequential"
    variable: str = Field("", max_length=100, description="A list's variable name.")
    values: str | list[str] = Field(
        "", description="A list's values: a list of strings, or text with one value per line."
    )
    csv: str | None = Field(
        None,
        description=f"The CSV file's content (UTF-8 text, header row = variable names; at most "
        f"{MAX_SOURCE_BYTES // (1024 * 1024)} MB, as on the page).",
    )
    filename: str = Field("", max_length=255, description="Shown for a CSV source (default data.csv).")


ScenarioKind = Literal["steps", "locustfile"]


ScenarioMode = Literal["weighted", "sequence"]


KIND_HELP = (
    "steps: the request steps below; locustfile: your own Locust code in locustfile (only where an "
    "operator allowed it for the team; steps and sources are then ignored)."
)


MODE_HELP = "weighted: each iteration picks one step by weight; sequence: every step in order (extraction)."


class ScenarioOut(Schema):
    id: int
    team: int
    name: str
    description: str
    kind: ScenarioKind
    mode: ScenarioMode
    locustfile: str = Field(..., description="The Python source of a locustfile scenario; empty otherwise.")
    user_class: Literal["fast", "http"]
    think_time_min: float
    think_time_max: float
    steps: list[StepIO]
    sources: list[SourceOut]
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_team(obj: Any) -> int:
        return int(obj.team_id)

    @staticmethod
    def resolve_steps(obj: Any) -> list[dict[str, Any]]:
        return [{f: getattr(step, f) for f in STEP_FIELDS} for step in obj.steps.all()]

    @staticmethod
    def resolve_sources(obj: Any) -> list[Any]:
        return list(obj.sources.all())


class ScenarioIn(Schema):
    name: str = Name
    description: str = ""
    kind: ScenarioKind = Field("steps", description=KIND_HELP)
    mode: ScenarioMode = Field("weighted", description=MODE_HELP)
    locustfile: str = Field("", description="Python (kind locustfile): HttpUser or FastHttpUser classes.")
    user_class: Literal["fast", "http"] = "fast"
    think_time_min: float = Field(0.0, ge=0, le=3600)
    think_time_max: float = Field(0.0, ge=0, le=3600)
    steps: list[StepIn] = Field(
        default_factory=list, max_length=100, description="At least one for kind steps."
    )
    sources: list[SourceIn] = Field(
        default_factory=list, max_length=10, description="Data sources of ${name} variables."
    )


class ScenarioCreate(ScenarioIn):
    team: int | None = Field(None, description="Team id (editor role); default: your first team.")


class ScenarioPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = None
    kind: ScenarioKind | None = None
    mode: ScenarioMode | None = None
    locustfile: str | None = None
    user_class: Literal["fast", "http"] | None = None
    think_time_min: float | None = Field(None, ge=0, le=3600)
    think_time_max: float | None = Field(None, ge=0, le=3600)
    steps: list[StepIn] | None = Field(None, max_length=100, description="Replaces all steps.")
    sources: list[SourceIn] | None = Field(
        None, max_length=10, description="Replaces all data sources (give a saved CSV's id to keep it)."
    )
