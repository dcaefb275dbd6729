"""Reads for the catalog pages (targets, scenarios, load profiles, test plans): lists with
their usage counts, profile previews and the rows that show a scenario's steps or a profile's
parameters. No writes.
"""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Count, QuerySet

from runs.core import profiles
from runs.core.analysis.planned import planned_levels, step_length_advice
from runs.models import LoadProfile, Scenario, Target, Team, TestPlan
from runs.services.catalog import STEP_FIELDS


def plan_list(*, team: Team) -> QuerySet[TestPlan]:
    return (
        TestPlan.objects.filter(team=team)
        .select_related("target", "scenario", "profile")
        .annotate(run_count=Count("runs"))
    )


def target_list(*, team: Team) -> QuerySet[Target]:
    return Target.objects.filter(team=team).annotate(plan_count=Count("plans"))


def scenario_list(*, team: Team) -> QuerySet[Scenario]:
    return Scenario.objects.filter(team=team).annotate(
        step_count=Count("steps", distinct=True), plan_count=Count("plans", distinct=True)
    )


def profile_list(*, team: Team) -> QuerySet[LoadProfile]:
    return LoadProfile.objects.filter(team=team).annotate(plan_count=Count("plans"))


def plans_using(*, obj: Target | Scenario | LoadProfile) -> list[TestPlan]:
    """Plans that reference ``obj`` (and so keep it from being deleted)."""
    return list(obj.plans.order_by("name", "id"))


def profile_preview(*, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """Planned curve and headline numbers of validated profile parameters."""
    plan = profiles.build_plan(kind, params)
    xs, ys = profiles.preview(plan)
    return {
        "x": xs,
        "y": ys,
        "duration": plan.duration,
        "peak_users": plan.peak_users,
        "unit": profiles.preview_unit(kind),
        # Said before saving: steps too short for a trustworthy knee or verdict ("" if none).
        "step_advice": (
            SEARCH_ADVICE
            if profiles.is_search(kind)
            else step_length_advice([level.seconds for level in planned_levels(plan)])
        ),
    }


SEARCH_ADVICE = (
    "A capacity search: the chart is the most it can ask for (growth at the shortest step length, "
    "then the ceiling until the budget ends). Each step holds until its result is decided; after "
    "the first failing step the load is bisected."
)


def profile_preview_of(*, profile: LoadProfile) -> dict[str, Any] | None:
    """Preview of a saved profile; ``None`` when its parameters no longer build a plan."""
    try:
        return profile_preview(kind=profile.kind, params=profile.params)
    except (profiles.ProfileError, KeyError, TypeError, ValueError):
        return None


def _step_row(step: dict[str, Any]) -> dict[str, Any]:
    return {
        **step,
        "query_text": json.dumps(step.get("query")) if step.get("query") else "",
        "headers_text": json.dumps(step.get("headers")) if step.get("headers") else "",
        "extract_text": "; ".join(
            f"{r['var']} = {r['source']}:{r['expr']}" for r in step.get("extract") or []
        ),
    }


def scenario_step_rows(*, scenario: Scenario) -> list[dict[str, Any]]:
    """Steps in the shape of a run snapshot's steps, so one table shows both."""
    return [
        _step_row({**{f: getattr(step, f) for f in STEP_FIELDS}, "name": step.display_name})
        for step in scenario.steps.all()
    ]


def snapshot_steps(*, snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    return [_step_row(step) for step in (snapshot.get("scenario") or {}).get("steps") or []]


def profile_param_rows(*, kind: str, params: dict[str, Any]) -> list[tuple[str, Any]]:
    """(label, value) pairs of a profile's parameters, for reading rather than editing."""
    if kind == "stages":
        return [
            (
                f"Stage {i}",
                f"{s.get('duration')} s → {s.get('users')} users"
                + (f" at {s['spawn_rate']:g}/s" if s.get("spawn_rate") else ""),
            )
            for i, s in enumerate(params.get("stages") or [], start=1)
        ]
    labels = {name: label for name, label, *_ in profiles.FIELDS.get(kind, [])}
    return [(labels.get(k, k), v) for k, v in params.items() if v is not None]


def plan_threshold_labels(*, plan: TestPlan) -> list[str]:
    from runs.core import thresholds

    try:
        return [item.label() for item in thresholds.parse_thresholds(plan.thresholds)]
    except ValueError:
        return ["(invalid thresholds: edit the plan)"]
