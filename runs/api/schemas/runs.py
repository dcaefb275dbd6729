"""API schemas of runs: the run, its progress, series, endpoints, errors, analysis, comparison,
baseline and CI result."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, get_type_hints

from ninja import Field, Schema
from pydantic import create_model

from runs.api.schemas.common import RunStatus
from runs.api.schemas.plans import ThresholdOut
from runs.core.ci import driver as ci_driver
from runs.selectors import runs as selectors


class Progress(Schema):
    t: int = Field(..., description="Last stored second (relative to the start); -1 before the first.")
    elapsed: int
    planned: float
    percent: float
    users: int
    rps: float = Field(
        ...,
        description="Requests in the last stored second (rolled up: per second of the last 10 s window).",
    )
    p95_ms: float | None = Field(..., description="p95 of the last stored second.")
    errors: int = Field(..., description="Failures in the last stored second.")
    error_rate: float = Field(..., description="Failures / requests of the whole run so far, in %.")


class ThresholdVerdictOut(ThresholdOut):
    label: str
    unit: str
    observed: float | None = Field(..., description="The run's value; null when not evaluable.")
    verdict: Literal["passed", "failed", "not_evaluable"]
    note: str
    aborted: bool = Field(..., description="This threshold stopped the run.")


class ThresholdAbortOut(Schema):
    index: int = Field(..., description="Position of the threshold (from 0).")
    label: str
    from_t: int
    to_t: int
    observed: float
    message: str


def _ci_schema(name: str, shape: type, **overrides: Any) -> type[Schema]:
    """A response schema with the fields of one of the CI driver's TypedDicts, in its order (the
    driver's shape is the one definition); ``overrides`` narrow a field's type or describe it."""
    fields: dict[str, Any] = {key: (kind, ...) for key, kind in get_type_hints(shape).items()}
    fields.update(overrides)
    return create_model(name, __base__=Schema, __doc__=f"``{shape.__module__}.{shape.__name__}``.", **fields)


CiStatusOut = _ci_schema(
    "CiStatusOut",
    ci_driver.RunStatus,
    status=(RunStatus, ...),
    t=(int, Field(..., description="Seconds stored so far.")),
)
CiResultOut = _ci_schema(
    "CiResultOut", ci_driver.RunResult, status=(RunStatus, ...), thresholds=(list[ThresholdVerdictOut], ...)
)


class CiOut(Schema):
    status: CiStatusOut  # type: ignore[valid-type]
    result: CiResultOut  # type: ignore[valid-type]


class RunOut(Schema):
    id: int
    team: int
    plan: int | None
    plan_name: str
    url: str = Field(..., description="The run's page (a path on this server).")
    status: RunStatus
    active: bool
    generators: int
    trigger: Literal["manual", "scheduled", "api", "ci"]
    version: str
    tags: list[str]
    notes: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    planned_seconds: float
    error_message: str
    total_requests: int
    total_failures: int
    total_bytes: int
    error_rate: float
    mean_rps: float
    p50_ms: float | None = Field(..., description="Whole-run percentiles, set when the run ends.")
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    duration_seconds: float | None
    passed: bool | None = Field(
        ..., description="null without thresholds (or before the end); true when all passed."
    )
    threshold_count: int = Field(..., description="How many thresholds the run was started with.")
    threshold_results: list[ThresholdVerdictOut] = Field(
        ..., description="One verdict per threshold, at the end."
    )
    threshold_abort: ThresholdAbortOut | None = Field(
        ..., description="Set when an abort threshold stopped the run."
    )
    pinned: bool = Field(..., description="Kept at full resolution by the retention policy.")
    resolution_s: int = Field(..., description="Seconds per stored series point: 1, or 10 once rolled up.")
    rolled_up_at: dt.datetime | None
    progress: Progress
    ci: CiOut = Field(
        ...,
        description="What `manage.py ci_run` and `python3 -m runs.ci` read (the same functions build both), "
        "so a remote CI client prints what a local one does.",
    )

    @staticmethod
    def resolve_team(obj: Any) -> int:
        return int(obj.team_id)

    @staticmethod
    def resolve_url(obj: Any) -> str:
        return str(obj.get_absolute_url())

    @staticmethod
    def resolve_threshold_count(obj: Any) -> int:
        return len(obj.thresholds)

    @staticmethod
    def resolve_ci(obj: Any) -> dict[str, Any]:
        from runs.services.ci import run_result_payload, run_status_payload

        return {"status": run_status_payload(run=obj), "result": run_result_payload(run=obj)}

    @staticmethod
    def resolve_plan(obj: Any) -> int | None:
        return obj.plan_id  # type: ignore[no-any-return]

    @staticmethod
    def resolve_active(obj: Any) -> bool:
        return bool(obj.is_active)

    @staticmethod
    def resolve_progress(obj: Any) -> dict[str, Any]:
        latest = selectors.run_latest_second(run=obj, fields=("requests", "failures", "p95_ms"))
        progress = selectors.run_progress(run=obj, latest=latest)
        return {
            **progress,
            "t": obj.last_t,
            "p95_ms": latest.get("p95_ms") if latest else None,
            # A rolled-up run's last window gives failures per second: rounded to a count.
            "errors": round((latest.get("failures", 0) if latest else 0) or 0),
        }


class RunListItem(Schema):
    id: int
    team: int
    plan: int | None
    plan_name: str
    status: RunStatus
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    total_requests: int
    total_failures: int
    p95_ms: float | None

    @staticmethod
    def resolve_team(obj: Any) -> int:
        return int(obj.team_id)

    @staticmethod
    def resolve_plan(obj: Any) -> int | None:
        return obj.plan_id  # type: ignore[no-any-return]


class RunStart(Schema):
    plan: int | None = Field(None, description="The plan's id; or give plan_name.")
    plan_name: str | None = Field(None, min_length=1, max_length=200, description="The plan's exact name.")
    team: int | None = Field(None, description="With plan_name: the team to look in (default: all yours).")
    trigger: Literal["api", "ci"] = Field(
        "api", description="What started the run, shown on its page and filterable."
    )
    version: str = Field("", max_length=200, description="Version or commit under test, e.g. a git SHA.")
    tags: list[str] = Field(
        default_factory=list, description="Short labels (lower-case letters, digits, . _ -)."
    )
    notes: str = Field("", max_length=20000)


class PinIn(Schema):
    pinned: bool = Field(..., description="true to pin (keep at full resolution), false to unpin.")


class SecondOut(Schema):
    t: int
    users: int | None = Field(None, description="Overall series only.")
    requests: int
    failures: int
    bytes: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    mean_ms: float | None = Field(None, description="Overall series only.")
    dropped_iterations: int | None = Field(None, description="Overall series only (arrival-rate runs).")


class GeneratorSecondOut(Schema):
    generator: int = Field(..., description="The generator's index, from 0.")
    t: int
    requests: int
    failures: int
    cpu_percent: float | None


class GeneratorsOut(Schema):
    run: int
    generators: int
    points: list[GeneratorSecondOut] = Field(
        ...,
        description=(
            "Per generator, per second (ordered by generator, then t); empty for a one-generator run."
        ),
    )


class SeriesOut(Schema):
    run: int
    endpoint: str | None = Field(..., description='"METHOD name", or null for all endpoints merged.')
    interval_seconds: int = Field(
        1,
        description="Seconds each point stands for: 1, or 10 once the run was rolled up by the retention "
        "policy (the last point may be shorter, ending at the run's last second). Counts are over that "
        "span; percentiles are exact over it.",
    )
    points: list[SecondOut]


class EndpointOut(Schema):
    method: str
    name: str
    endpoint: str = Field(..., description='"METHOD name": the value of series?endpoint=.')
    requests: int
    failures: int
    p50_ms: float | None
    p90_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    rps: float


class ErrorOut(Schema):
    method: str
    name: str
    error_class: str
    message: str
    count: int
    first_seen: dt.datetime
    last_seen: dt.datetime


class AnalysisOut(Schema):
    run: int
    available: bool = Field(..., description="False until the run has ended with results.")
    capacity: dict[str, Any] | None = Field(
        ...,
        description="Steps (with CIs), knee, USL fit, validity warnings, per-endpoint steps, bottlenecks.",
    )
    baseline: dict[str, Any] | None = Field(
        ..., description="Verdict of this run against its plan's baseline."
    )


class CompareOut(Schema):
    reference: int
    runs: list[dict[str, Any]]
    endpoints: list[dict[str, Any]]


class BaselineOut(Schema):
    plan: int
    baseline_run: int
