"""Logged-in clients and seeded objects for the page tests.

``alice`` comes from tests/conftest.py; the anonymous visitor has no account. Objects are created through
the catalog services, as the views do.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from runs.models import EndpointSummary, ErrorGroup, Run, RunSecond, TestPlan
from runs.services import catalog
from runs.services.runs import plan_snapshot

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def alice_client(alice: Any) -> Client:
    c = Client()
    c.force_login(alice)
    return c


@pytest.fixture
def seeded_plan(alice: Any) -> TestPlan:
    target = catalog.target_create(
        team=alice.memberships.get().team, data={"name": "Shop", "base_url": "http://127.0.0.1:9"}, user=alice
    )
    scenario = catalog.scenario_save(
        team=alice.memberships.get().team,
        data={"name": "Browse", "think_time_min": 0.0, "think_time_max": 0.5},
        steps=[
            {"name": "home", "method": "GET", "path": "/", "expected_statuses": "200-299"},
            {"name": "", "method": "POST", "path": "/cart", "body_type": "json", "body": '{"id": 1}'},
        ],
        user=alice,
    )
    profile = catalog.profile_save(
        team=alice.memberships.get().team,
        name="Three for four",
        kind="constant",
        params={"users": 3, "duration": 4},
    )
    return catalog.plan_create(
        team=alice.memberships.get().team,
        data={"name": "Smoke", "target": target, "scenario": scenario, "profile": profile},
        user=alice,
    )


def make_run(
    plan: TestPlan, *, status: str = Run.Status.FINISHED, name: str | None = None, **fields: Any
) -> Run:
    now = timezone.now()
    defaults: dict[str, Any] = {
        "team": plan.team,
        "plan": plan,
        "plan_name": name or plan.name,
        "snapshot": plan_snapshot(plan=plan),
        "status": status,
        "planned_seconds": 4,
        "started_at": now - timedelta(seconds=5),
    }
    if status not in Run.ACTIVE:
        defaults["finished_at"] = now
    defaults.update(fields)
    return Run.objects.create(**defaults)


@pytest.fixture
def finished_run(seeded_plan: TestPlan) -> Run:
    """A finished run with three seconds of results, a hostile endpoint name and one error group."""
    run = make_run(
        seeded_plan,
        total_requests=60,
        total_failures=3,
        last_t=2,
        p50_ms=11.0,
        p95_ms=22.5,
        p99_ms=40.0,
        max_ms=55.5,
        locust_version="2.47.0",
        generator_host="gen-1",
    )
    for t in range(3):
        RunSecond.objects.create(
            run=run, t=t, users=3, requests=20, failures=1, p50_ms=10 + t, p95_ms=20 + t, p99_ms=30 + t
        )
    EndpointSummary.objects.create(
        run=run,
        method="GET",
        name="/",
        requests=40,
        failures=0,
        p50_ms=10,
        p90_ms=18,
        p95_ms=20,
        p99_ms=30,
        max_ms=50,
        rps=13.3,
    )
    EndpointSummary.objects.create(
        run=run,
        method="POST",
        name=HOSTILE,
        requests=20,
        failures=3,
        p50_ms=12,
        p90_ms=19,
        p95_ms=25,
        p99_ms=41,
        max_ms=55.5,
        rps=6.7,
    )
    ErrorGroup.objects.create(
        run=run,
        method="POST",
        name=HOSTILE,
        error_class="HTTPError",
        message="500 Server Error <b>x</b>",
        count=3,
        first_seen=timezone.now(),
        last_seen=timezone.now(),
    )
    return run
