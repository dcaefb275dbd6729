"""API schemas of test plans and their thresholds."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Field, Schema

from runs.api.schemas.common import Name
from runs.core import thresholds


class ThresholdOut(Schema):
    metric: Literal[thresholds.METRICS]  # type: ignore[valid-type]
    op: Literal["<", "<=", ">=", ">"]
    value: float = Field(..., description="ms for latencies, % for error_rate, requests/s for rps.")
    method: str | None = Field(..., description="With name: one endpoint (METHOD and step name); null: all.")
    name: str | None
    abort_after_seconds: int | None = Field(
        ..., description="Stop the run when crossed this many seconds in a row."
    )


THRESHOLDS_HELP = (
    "The page's text, one per line (" + thresholds.SYNTAX_HELP + "), or a list of objects shaped as "
    "in the response. Replaces all thresholds; empty: none."
)


GENERATORS_HELP = (
    "Load generator processes that share the load (1 to SCALETEST_MAX_GENERATORS); "
    "arrival-rate profiles use 1."
)


class PlanOut(Schema):
    id: int
    team: int
    name: str
    target: int
    scenario: int
    profile: int
    generators: int
    notes: str
    thresholds: list[ThresholdOut]
    thresholds_text: str = Field(..., description="The thresholds in the page's line syntax.")
    baseline_run: int | None

    @staticmethod
    def resolve_thresholds_text(obj: Any) -> str:
        try:
            return thresholds.thresholds_text(thresholds.parse_thresholds(obj.thresholds))
        except ValueError:
            return ""

    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_team(obj: Any) -> int:
        return int(obj.team_id)

    @staticmethod
    def resolve_target(obj: Any) -> int:
        return int(obj.target_id)

    @staticmethod
    def resolve_scenario(obj: Any) -> int:
        return int(obj.scenario_id)

    @staticmethod
    def resolve_profile(obj: Any) -> int:
        return int(obj.profile_id)

    @staticmethod
    def resolve_baseline_run(obj: Any) -> int | None:
        return obj.baseline_run_id  # type: ignore[no-any-return]


class PlanIn(Schema):
    name: str = Name
    target: int = Field(..., description="A target of the plan's team.")
    scenario: int
    profile: int
    generators: int = Field(1, description=GENERATORS_HELP)
    notes: str = ""
    thresholds: str | list[dict[str, Any]] = Field(
        "", description=THRESHOLDS_HELP, examples=["p95 < 500\nerror_rate < 1%"]
    )


class PlanCreate(PlanIn):
    team: int | None = Field(None, description="Team id (editor role); default: your first team.")


class PlanPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    target: int | None = None
    scenario: int | None = None
    profile: int | None = None
    generators: int | None = Field(None, description=GENERATORS_HELP)
    notes: str | None = None
    thresholds: str | list[dict[str, Any]] | None = Field(None, description=THRESHOLDS_HELP)


class TrendOut(Schema):
    plan: int
    baseline_run: int | None
    runs: list[dict[str, Any]] = Field(
        ...,
        description=(
            "Every ended run of the plan, oldest first: started_at, status, version, tags, p50/p95/p99_ms, "
            "rps, error_rate, max_rps and knee_users (capacity analysis), passed (thresholds), "
            "is_baseline, verdict (overall p95 against the baseline, once compared)."
        ),
    )
