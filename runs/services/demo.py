"""The demo: a target with a known bottleneck and a plan that finds it."""

from __future__ import annotations

from typing import Any

from runs.core.metrics.series import DEMO_TARGET_SCRAPE
from runs.models import LoadProfile, Membership, MetricSource, Scenario, ScenarioStep, Target, Team, TestPlan

DEMO_PLAN = "Demo: find the plateau"
DEMO_TEAM = "Demo team"


def demo_team(*, admin: Any) -> Team:
    """The demo's team, with ``admin`` as its admin. Idempotent."""
    team = Team.objects.filter(name=DEMO_TEAM).order_by("id").first() or Team.objects.create(name=DEMO_TEAM)
    Membership.objects.update_or_create(team=team, user=admin, defaults={"role": Membership.Role.ADMIN})
    return team


def demo_seed(*, base_url: str, team: Team) -> TestPlan:
    """Create (or refresh) the demo objects in ``team``. Idempotent: running `up` twice adds nothing."""
    target, _ = Target.objects.update_or_create(
        team=team,
        name="Demo target (local)",
        defaults={"base_url": base_url, "timeout_seconds": 10.0},
    )
    # Its own /metrics, scraped every second: the run page shows the 8 slots filling up.
    MetricSource.objects.update_or_create(
        target=target,
        name="demo target",
        defaults={
            "kind": MetricSource.Kind.SCRAPE,
            "url": base_url.rstrip("/") + "/metrics",
            "series": [s.to_dict() for s in DEMO_TARGET_SCRAPE],
        },
    )
    scenario, created = Scenario.objects.get_or_create(
        team=team,
        name="Demo: slot-limited endpoint",
        defaults={
            "description": "GET /slots: 8 slots, each held 50 ms, so the target tops out at 160 req/s.",
        },
    )
    if created or not scenario.steps.exists():
        ScenarioStep.objects.create(scenario=scenario, order=0, name="slots", method="GET", path="/slots")
    profile, _ = LoadProfile.objects.get_or_create(
        team=team,
        # 16 s steps leave 12 s of steady load each after the warm-up (what the analysis
        # trusts: runs.core.analysis.planned.TRUSTED_STEADY_SECONDS) even when the step's users
        # take a second to start, so a newcomer's first analysis is not "low confidence".
        # 80 s in all; the knee (8 users) lies between the steps at 6 and 10 users.
        name="Demo: staircase 2→18 users",
        defaults={
            "kind": "staircase",
            "params": {
                "start_users": 2,
                "step_users": 4,
                "step_duration": 16,
                "steps": 5,
                "spawn_rate": None,
            },
        },
    )
    plan, _ = TestPlan.objects.get_or_create(
        team=team,
        name=DEMO_PLAN,
        defaults={
            "target": target,
            "scenario": scenario,
            "profile": profile,
            "notes": "Throughput grows by 20 req/s per user until 8 users, then plateaus at 160 req/s "
            "while latency climbs: the knee is at 8 users.",
        },
    )
    return plan
