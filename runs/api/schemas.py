"""Request and response bodies. The OpenAPI document is generated from these, and the same
classes validate what comes in, so the document describes what the server accepts.

Shapes and types are checked here (a wrong type is a 422 from ninja); the rules the pages
enforce (safe base URLs, step paths, status ranges, profile limits, same-team parts) are
checked by the same forms and functions the pages use, in the resource modules.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Field, Schema

from runs import profiles, selectors, thresholds
from runs.engine.scenario_vars import MAX_SOURCE_BYTES
from runs.models import METHODS
from runs.services.catalog import STEP_FIELDS

ProfileKind = Literal[profiles.KINDS]  # type: ignore[valid-type]
Method = Literal[METHODS]  # type: ignore[valid-type]
Role = Literal["viewer", "editor", "admin"]
RunStatus = Literal["queued", "running", "finished", "failed", "cancelled"]
Name = Field(..., min_length=1, max_length=200)


class Error(Schema):
    detail: str = Field(..., description="What went wrong, for a person to read.")


class ValidationErrorItem(Schema):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrors(Schema):
    detail: list[ValidationErrorItem]


# -- teams ---------------------------------------------------------------------------------------
class TeamOut(Schema):
    id: int
    name: str
    role: Role = Field(..., description="Your role in this team.")


class TeamIn(Schema):
    name: str = Name


class MemberOut(Schema):
    id: int = Field(..., description="The membership's id (for changing the role or removing).")
    user_id: int
    username: str
    role: Role


class MemberIn(Schema):
    username: str = Field(..., min_length=1, max_length=150)
    role: Role = "viewer"


class MemberRoleIn(Schema):
    role: Role


# -- targets -------------------------------------------------------------------------------------
class TargetOut(Schema):
    id: int
    team: int
    name: str
    base_url: str
    headers: dict[str, str]
    auth_type: Literal["none", "basic", "bearer"]
    auth_username: str
    has_auth_password: bool = Field(..., description="Secrets are write-only: only whether one is saved.")
    has_auth_token: bool
    verify_tls: bool
    timeout_seconds: float
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_team(obj: Any) -> int:
        return int(obj.team_id)

    @staticmethod
    def resolve_headers(obj: Any) -> dict[str, str]:
        return obj.headers or {}

    @staticmethod
    def resolve_has_auth_password(obj: Any) -> bool:
        return bool(obj.auth_password)

    @staticmethod
    def resolve_has_auth_token(obj: Any) -> bool:
        return bool(obj.auth_token)


class TargetIn(Schema):
    name: str = Name
    base_url: str = Field(..., min_length=1, max_length=500, examples=["http://127.0.0.1:8089"])
    headers: dict[str, str] = Field(default_factory=dict)
    auth_type: Literal["none", "basic", "bearer"] = "none"
    auth_username: str = Field("", max_length=200)
    auth_password: str | None = Field(
        None, max_length=500, description="Write-only. Omit (or empty) to keep the saved password."
    )
    auth_token: str | None = Field(
        None, max_length=2000, description="Write-only. Omit (or empty) to keep the saved token."
    )
    verify_tls: bool = True
    timeout_seconds: float = Field(30.0, ge=0.1, le=600)


class TargetCreate(TargetIn):
    team: int | None = Field(
        None, description="Team id (you need the editor role); default: your first team."
    )


class TargetPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    base_url: str | None = Field(None, min_length=1, max_length=500)
    headers: dict[str, str] | None = None
    auth_type: Literal["none", "basic", "bearer"] | None = None
    auth_username: str | None = Field(None, max_length=200)
    auth_password: str | None = Field(None, max_length=500)
    auth_token: str | None = Field(None, max_length=2000)
    verify_tls: bool | None = None
    timeout_seconds: float | None = Field(None, ge=0.1, le=600)


# -- scenarios -----------------------------------------------------------------------------------
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


# -- load profiles -------------------------------------------------------------------------------
class ProfileOut(Schema):
    id: int
    team: int
    name: str
    kind: ProfileKind
    params: dict[str, Any]
    duration: float | None = Field(
        ..., description="Planned seconds; null if the parameters no longer build a plan."
    )
    peak_users: int | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_team(obj: Any) -> int:
        return int(obj.team_id)

    @staticmethod
    def resolve_duration(obj: Any) -> float | None:
        preview = selectors.profile_preview_of(profile=obj)
        return preview["duration"] if preview else None

    @staticmethod
    def resolve_peak_users(obj: Any) -> int | None:
        preview = selectors.profile_preview_of(profile=obj)
        return preview["peak_users"] if preview else None


class ProfileIn(Schema):
    name: str = Name
    kind: ProfileKind = "constant"
    params: dict[str, Any] = Field(
        ...,
        description='The kind\'s parameters, as on the profile form, e.g. {"users": 10, "duration": 60}.',
        examples=[{"users": 10, "duration": 60}],
    )


class ProfileCreate(ProfileIn):
    team: int | None = Field(None, description="Team id (editor role); default: your first team.")


class ProfilePatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    kind: ProfileKind | None = None
    params: dict[str, Any] | None = None


# -- plans ---------------------------------------------------------------------------------------
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
GENERATORS_HELP = "Load generator processes that share the load (1 to SCALETEST_MAX_GENERATORS); arrival-rate profiles use 1."


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


# -- runs ----------------------------------------------------------------------------------------
class Progress(Schema):
    t: int = Field(..., description="Last stored second (relative to the start); -1 before the first.")
    elapsed: int
    planned: float
    percent: float
    users: int
    rps: float = Field(..., description="Requests in the last stored second.")
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


class CiStatusOut(Schema):
    """``runs.ci.driver.RunStatus``."""

    id: int
    status: RunStatus
    active: bool
    t: int = Field(..., description="Seconds stored so far.")
    planned_seconds: float
    users: int
    rps: float
    p95_ms: float | None
    requests: int
    failures: int


class CiResultOut(Schema):
    """``runs.ci.driver.RunResult``."""

    id: int
    url: str
    plan: str
    status: RunStatus
    error_message: str
    duration_seconds: float | None
    requests: int
    failures: int
    rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    passed: bool | None
    threshold_count: int
    thresholds: list[ThresholdVerdictOut]


class CiOut(Schema):
    status: CiStatusOut
    result: CiResultOut


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
        from runs.ci.local import run_result_payload, run_status_payload

        return {"status": run_status_payload(run=obj), "result": run_result_payload(run=obj)}

    @staticmethod
    def resolve_plan(obj: Any) -> int | None:
        return obj.plan_id  # type: ignore[no-any-return]

    @staticmethod
    def resolve_active(obj: Any) -> bool:
        return bool(obj.is_active)

    @staticmethod
    def resolve_progress(obj: Any) -> dict[str, Any]:
        from runs.models import RunSecond

        latest = (
            RunSecond.objects.filter(run=obj, t=obj.last_t).values("requests", "failures", "p95_ms").first()
        )
        progress = selectors.run_progress(run=obj, latest=latest)
        return {
            **progress,
            "t": obj.last_t,
            "p95_ms": (latest or {}).get("p95_ms"),
            "errors": (latest or {}).get("failures", 0) or 0,
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
        description="Per generator, per second (ordered by generator, then t); empty for a one-generator run.",
    )


class SeriesOut(Schema):
    run: int
    endpoint: str | None = Field(..., description='"METHOD name", or null for all endpoints merged.')
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


class BaselineOut(Schema):
    plan: int
    baseline_run: int


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
