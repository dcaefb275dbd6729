"""Writes of the things a run is planned from: targets, scenarios with steps, profiles, plans.

Callers pass data a form has already validated. Deleting something a plan still uses raises
:class:`CatalogError` with a message for the user (the foreign keys are ``PROTECT``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import models, transaction
from django.db.models import ProtectedError

from runs.core.engine import scenario_vars
from runs.models import LoadProfile, Scenario, ScenarioDataSource, ScenarioStep, Target, Team, TestPlan
from runs.services.scenarios import locustfile_allowed


class CatalogError(Exception):
    """A change cannot be made; the message is meant for the user."""


TARGET_FIELDS = (
    "name",
    "base_url",
    "headers",
    "auth_type",
    "auth_username",
    "auth_password",
    "auth_token",
    "verify_tls",
    "timeout_seconds",
)
SCENARIO_FIELDS = (
    "name",
    "description",
    "kind",
    "mode",
    "locustfile",
    "user_class",
    "think_time_min",
    "think_time_max",
)
STEP_FIELDS = (
    "name",
    "method",
    "path",
    "query",
    "headers",
    "body_type",
    "body",
    "weight",
    "expected_statuses",
    "extract",
)
SOURCE_FIELDS = ("kind", "mode", "filename", "columns", "rows")
PLAN_FIELDS = ("name", "target", "scenario", "profile", "generators", "notes", "thresholds")


def _assign[M: models.Model](obj: M, data: Mapping[str, Any], fields: Iterable[str]) -> M:
    for name in fields:
        if name in data:
            setattr(obj, name, data[name])
    return obj


def _user_or_none(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None


def _delete(obj: models.Model, what: str) -> None:
    try:
        obj.delete()
    except ProtectedError as exc:
        names = sorted({str(p) for p in exc.protected_objects})
        shown = ", ".join(f"“{n}”" for n in names[:5]) + (" and others" if len(names) > 5 else "")
        raise CatalogError(
            f"{what} “{obj}” is used by the test plan{'s' if len(names) != 1 else ''} {shown}. "
            "Change or delete those plans first."
        ) from exc


# --- targets ---------------------------------------------------------------------------------
def target_create(*, team: Team, data: Mapping[str, Any], user: Any = None) -> Target:
    target = _assign(Target(team=team, created_by=_user_or_none(user)), data, TARGET_FIELDS)
    target.full_clean()
    target.save()
    return target


def target_update(*, target: Target, data: Mapping[str, Any]) -> Target:
    _assign(target, data, TARGET_FIELDS)
    target.full_clean()
    target.save()
    return target


def target_delete(*, target: Target) -> None:
    _delete(target, "The target")


# --- scenarios -------------------------------------------------------------------------------
@transaction.atomic
def scenario_save(
    *,
    data: Mapping[str, Any],
    steps: Sequence[Mapping[str, Any]],
    sources: Sequence[Mapping[str, Any]] | None = None,
    scenario: Scenario | None = None,
    team: Team | None = None,
    user: Any = None,
) -> Scenario:
    """Create or update a scenario and replace its steps and data sources with ``steps`` and
    ``sources`` (parsed: ``columns`` and ``rows``), in that order. A locustfile scenario keeps
    neither.

    Runs keep a snapshot of their steps, so replacing the rows rewrites no history. A new
    scenario belongs to ``team``.
    """
    if scenario is None:
        assert team is not None, "a new scenario needs its team"
        scenario = Scenario(team=team, created_by=_user_or_none(user))
    _assign(scenario, data, SCENARIO_FIELDS)
    if scenario.think_time_min > scenario.think_time_max:
        raise CatalogError("The minimum think time is above the maximum.")
    if scenario.kind == Scenario.Kind.LOCUSTFILE:
        if not locustfile_allowed(team=scenario.team):
            raise CatalogError(
                "Locustfile scenarios are not allowed for this team; an operator can allow them in the admin."
            )
        steps, sources = [], []
    else:
        scenario.locustfile = ""
        sources = list(sources or [])
        _check_variables(scenario, steps, sources)
    scenario.full_clean()
    scenario.save()
    scenario.steps.all().delete()
    scenario.sources.all().delete()
    rows = []
    for order, step in enumerate(steps):
        row = _assign(ScenarioStep(scenario=scenario, order=order), step, STEP_FIELDS)
        row.full_clean(exclude=["scenario"])
        rows.append(row)
    ScenarioStep.objects.bulk_create(rows)
    ScenarioDataSource.objects.bulk_create(
        _assign(ScenarioDataSource(scenario=scenario, order=order), source, SOURCE_FIELDS)
        for order, source in enumerate(sources)
    )
    return scenario


def _check_variables(
    scenario: Scenario, steps: Sequence[Mapping[str, Any]], sources: Sequence[Mapping[str, Any]]
) -> None:
    """The forms say this field by field; callers that skip them get one message."""
    if scenario.mode != Scenario.Mode.SEQUENCE and any(step.get("extract") for step in steps):
        raise CatalogError("Steps that extract values need the sequence mode.")
    names = [name for source in sources for name in source["columns"]]
    for index, missing in scenario_vars.undefined_variables(
        mode=scenario.mode, source_names=names, steps=steps
    ):
        raise CatalogError(f"Step {index + 1} uses {', '.join(missing)}, which nothing defines before it.")


def scenario_delete(*, scenario: Scenario) -> None:
    _delete(scenario, "The scenario")


# --- load profiles ---------------------------------------------------------------------------
def profile_save(
    *,
    name: str,
    kind: str,
    params: Mapping[str, Any],
    profile: LoadProfile | None = None,
    team: Team | None = None,
    user: Any = None,
) -> LoadProfile:
    """Create or update a profile from parameters ``profiles.validate_profile`` returned; a new
    profile belongs to ``team``."""
    if profile is None:
        assert team is not None, "a new profile needs its team"
        profile = LoadProfile(team=team, created_by=_user_or_none(user))
    profile.name = name
    profile.kind = kind
    profile.params = dict(params)
    profile.full_clean()
    profile.save()
    return profile


def profile_delete(*, profile: LoadProfile) -> None:
    _delete(profile, "The load profile")


# --- test plans ------------------------------------------------------------------------------
def _check_same_team(plan: TestPlan) -> None:
    """A plan only uses its own team's target, scenario and profile."""
    for part, label in ((plan.target, "target"), (plan.scenario, "scenario"), (plan.profile, "load profile")):
        if part.team_id != plan.team_id:
            raise CatalogError(f"The {label} “{part}” belongs to another team.")


def plan_create(*, team: Team, data: Mapping[str, Any], user: Any = None) -> TestPlan:
    plan = _assign(TestPlan(team=team, created_by=_user_or_none(user)), data, PLAN_FIELDS)
    _check_same_team(plan)
    plan.full_clean()
    plan.save()
    return plan


def plan_update(*, plan: TestPlan, data: Mapping[str, Any]) -> TestPlan:
    _assign(plan, data, PLAN_FIELDS)
    _check_same_team(plan)
    plan.full_clean()
    plan.save()
    return plan


def plan_delete(*, plan: TestPlan) -> None:
    """Delete a plan; its runs stay, with their snapshot and the plan's name."""
    plan.delete()
