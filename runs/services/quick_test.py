"""The dashboard's quick test: one URL, a method, users and a duration become a target, a
scenario, a load profile and a test plan, and the plan's first run starts.

Everything goes through the catalog services and ``run_create``, so the same checks apply as
for parts made one by one (addresses and allowlist, ownership proof, caps, the team's
permissions are the view's). It happens in one transaction: when the run may not start, the
target, scenario, profile and plan are not kept either, and the user sees why.

A team that already has a target with exactly this base URL reuses it (its ownership proof,
its headers and authentication apply), so "verify the target, then try again" works and the
quick test does not pile up duplicate targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from runs.core import profiles
from runs.models import LoadProfile, Run, Scenario, Target, Team, TestPlan
from runs.services import catalog
from runs.services.runs import RunError, run_create

SHAPES = ("constant", "ramp", "staircase")
SHAPE_LABELS = {
    "constant": "All users from the start",
    "ramp": "Ramp up from 0 over the whole duration",
    "staircase": "Staircase: add users in equal steps",
}
PREFIX = "Quick test"


class QuickTestError(Exception):
    """The quick test cannot start; ``field`` names the form field to blame, if one is."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class QuickTest:
    url: str  # absolute http(s) URL; its path and query become the one step
    method: str
    users: int
    duration: int  # seconds
    shape: str = "constant"
    steps: int = 5  # staircase only


@dataclass(frozen=True)
class QuickTestResult:
    run: Run
    plan: TestPlan
    target: Target
    scenario: Scenario
    profile: LoadProfile
    target_reused: bool


@dataclass(frozen=True)
class SplitURL:
    base_url: str
    path: str
    query: dict[str, Any]


def url_split(url: str) -> SplitURL:
    """``https://shop.example.com:8443/api/items?page=2`` -> base URL, step path and query."""
    parts = urlsplit(url.strip())
    query: dict[str, Any] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in query:
            previous = query[key]
            query[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            query[key] = value
    return SplitURL(base_url=f"{parts.scheme.lower()}://{parts.netloc}", path=parts.path or "/", query=query)


def profile_params(spec: QuickTest) -> tuple[str, dict[str, Any]]:
    """The load profile (kind, parameters) of a quick test; raises :class:`QuickTestError`."""
    if spec.shape not in SHAPES:
        raise QuickTestError(f"Choose one of: {', '.join(SHAPES)}.", field="shape")
    if spec.shape == "constant":
        kind, raw = "constant", {"users": spec.users, "duration": spec.duration}
    elif spec.shape == "ramp":
        kind, raw = "ramp", {"from_users": 0, "to_users": spec.users, "duration": spec.duration, "hold": 0}
    else:
        steps = spec.steps
        if steps < 2:
            raise QuickTestError("A staircase needs at least 2 steps.", field="steps")
        if spec.users < steps:
            raise QuickTestError(
                f"A staircase of {steps} steps needs at least {steps} users (one more per step); "
                "raise the users or lower the steps.",
                field="steps",
            )
        if spec.duration < steps:
            raise QuickTestError(
                f"A staircase of {steps} steps needs at least {steps} seconds (one per step); "
                "raise the duration or lower the steps.",
                field="steps",
            )
        step_users = spec.users // steps
        # The last step reaches exactly ``users``; the first takes what does not divide evenly.
        kind, raw = (
            "staircase",
            {
                "start_users": spec.users - step_users * (steps - 1),
                "step_users": step_users,
                "step_duration": spec.duration // steps,
                "steps": steps,
            },
        )
    try:
        params = profiles.validate_profile(
            kind, raw, max_users=settings.SCALETEST_MAX_USERS, max_seconds=settings.SCALETEST_MAX_RUN_SECONDS
        )
    except profiles.ProfileError as exc:
        raise QuickTestError(f"The load is not possible: {exc}") from exc
    return kind, params


def _names(spec: QuickTest, split: SplitURL, kind: str, params: dict[str, Any]) -> dict[str, str]:
    host = urlsplit(split.base_url).netloc
    built = profiles.build_plan(kind, params)
    if spec.shape == "constant":
        load = f"{spec.users} users for {built.duration:g} s"
    elif spec.shape == "ramp":
        load = f"ramp 0→{spec.users} users over {built.duration:g} s"
    else:
        load = f"{params['steps']} steps to {spec.users} users in {built.duration:g} s"
    request = f"{spec.method} {split.path}"
    return {
        "target": f"{PREFIX} · {host}"[:200],
        "scenario": f"{PREFIX} · {request}"[:200],
        "profile": f"{PREFIX} · {load}"[:200],
        "plan": f"{PREFIX} · {request} on {host}, {load}"[:200],
    }


def quick_test_start(*, team: Team, user: Any, spec: QuickTest) -> QuickTestResult:
    """Create the four parts of a test from ``spec`` and start its run, or create nothing.

    Raises :class:`QuickTestError` (the message is for the user) when a part is invalid or the
    run may not start (``RunError``: addresses, ownership, caps)."""
    kind, params = profile_params(spec)
    split = url_split(spec.url)
    names = _names(spec, split, kind, params)
    try:
        with transaction.atomic():
            target = Target.objects.filter(team=team, base_url=split.base_url).order_by("pk").first()
            reused = target is not None
            if target is None:
                target = catalog.target_create(
                    team=team, data={"name": names["target"], "base_url": split.base_url}, user=user
                )
            scenario = catalog.scenario_save(
                team=team,
                user=user,
                data={"name": names["scenario"], "description": f"Made by the quick test from {spec.url}"},
                steps=[
                    {
                        "name": "",
                        "method": spec.method,
                        "path": split.path,
                        "query": split.query,
                        "expected_statuses": "200-399",
                    }
                ],
            )
            profile = catalog.profile_save(
                team=team, user=user, name=names["profile"], kind=kind, params=params
            )
            plan = catalog.plan_create(
                team=team,
                user=user,
                data={
                    "name": names["plan"],
                    "target": target,
                    "scenario": scenario,
                    "profile": profile,
                    "notes": f"Made by the quick test from {spec.url}. Edit its parts to change the test.",
                },
            )
            run = run_create(plan=plan, user=user)
    except (RunError, catalog.CatalogError) as exc:
        raise QuickTestError(f"Nothing was created or started: {exc}") from exc
    except ValidationError as exc:  # a model's own check (full_clean) the form did not make
        raise QuickTestError(f"Nothing was created or started: {' '.join(exc.messages)}") from exc
    return QuickTestResult(
        run=run, plan=plan, target=target, scenario=scenario, profile=profile, target_reused=reused
    )
