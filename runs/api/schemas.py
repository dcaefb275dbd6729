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

from runs import profiles, selectors
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
    team: int | None = Field(None, description="Team id (you need the editor role); default: your first team.")


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


class ScenarioOut(Schema):
    id: int
    team: int
    name: str
    description: str
    user_class: Literal["fast", "http"]
    think_time_min: float
    think_time_max: float
    steps: list[StepIO]
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_team(obj: Any) -> int:
        return int(obj.team_id)

    @staticmethod
    def resolve_steps(obj: Any) -> list[dict[str, Any]]:
        return [{f: getattr(step, f) for f in STEP_FIELDS} for step in obj.steps.all()]


class ScenarioIn(Schema):
    name: str = Name
    description: str = ""
    user_class: Literal["fast", "http"] = "fast"
    think_time_min: float = Field(0.0, ge=0, le=3600)
    think_time_max: float = Field(0.0, ge=0, le=3600)
    steps: list[StepIO] = Field(..., min_length=1, max_length=100)


class ScenarioCreate(ScenarioIn):
    team: int | None = Field(None, description="Team id (editor role); default: your first team.")


class ScenarioPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = None
    user_class: Literal["fast", "http"] | None = None
    think_time_min: float | None = Field(None, ge=0, le=3600)
    think_time_max: float | None = Field(None, ge=0, le=3600)
    steps: list[StepIO] | None = Field(None, min_length=1, max_length=100, description="Replaces all steps.")


# -- load profiles -------------------------------------------------------------------------------
class ProfileOut(Schema):
    id: int
    team: int
    name: str
    kind: ProfileKind
    params: dict[str, Any]
    duration: float | None = Field(..., description="Planned seconds; null if the parameters no longer build a plan.")
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
        description="The kind's parameters, as on the profile form, e.g. {\"users\": 10, \"duration\": 60}.",
        examples=[{"users": 10, "duration": 60}],
    )


class ProfileCreate(ProfileIn):
    team: int | None = Field(None, description="Team id (editor role); default: your first team.")


class ProfilePatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    kind: ProfileKind | None = None
    params: dict[str, Any] | None = None


# -- plans ---------------------------------------------------------------------------------------
class PlanOut(Schema):
    id: int
    team: int
    name: str
    target: int
    scenario: int
    profile: int
    notes: str
    baseline_run: int | None
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
    notes: str = ""


class PlanCreate(PlanIn):
    team: int | None = Field(None, description="Team id (editor role); default: your first team.")


class PlanPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    target: int | None = None
    scenario: int | None = None
    profile: int | None = None
    notes: str | None = None


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


class RunOut(Schema):
    id: int
    team: int
    plan: int | None
    plan_name: str
    status: RunStatus
    active: bool
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
    progress: Progress

    @staticmethod
    def resolve_team(obj: Any) -> int:
        return int(obj.team_id)

    @staticmethod
    def resolve_plan(obj: Any) -> int | None:
        return obj.plan_id  # type: ignore[no-any-return]

    @staticmethod
    def resolve_active(obj: Any) -> bool:
        return bool(obj.is_active)

    @staticmethod
    def resolve_progress(obj: Any) -> dict[str, Any]:
        from runs.models import RunSecond

        latest = RunSecond.objects.filter(run=obj, t=obj.last_t).values("requests", "failures", "p95_ms").first()
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


class SeriesOut(Schema):
    run: int
    endpoint: str | None = Field(..., description="\"METHOD name\", or null for all endpoints merged.")
    points: list[SecondOut]


class EndpointOut(Schema):
    method: str
    name: str
    endpoint: str = Field(..., description="\"METHOD name\": the value of series?endpoint=.")
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
        ..., description="Steps (with CIs), knee, USL fit, validity warnings, per-endpoint steps, bottlenecks."
    )
    baseline: dict[str, Any] | None = Field(..., description="Verdict of this run against its plan's baseline.")


class CompareOut(Schema):
    reference: int
    runs: list[dict[str, Any]]
    endpoints: list[dict[str, Any]]


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
