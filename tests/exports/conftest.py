"""Runs with stored results for the export tests, built without Locust.

The page tests' fixtures are reused: ``finished_run`` (three seconds, a hostile endpoint name,
an error group) and ``seed_run`` (a five-step staircase with real per-second histograms for
two endpoints, so the stored analysis has steps, a knee and bottlenecks). ``secret_plan`` is a
plan whose target and steps carry credentials that no export may contain.
"""

from __future__ import annotations

from typing import Any

import pytest

from runs.models import TestPlan
from runs.services import catalog
from tests.pages.conftest import alice_client, finished_run, seeded_plan  # noqa: F401 (fixtures)
from tests.pages.test_analysis_pages import staircase_plan  # noqa: F401 (fixture)

SECRETS = (
    "hunter2-password",
    "tok-bearer-0123456789",
    "Basic dXNlcjpwYXNz",
    "session=abc123cookie",
    "key-42-abcdef",
    "qs-token-777",
    "json-body-pw-555",
)


@pytest.fixture
def secret_plan(alice: Any) -> TestPlan:
    target = catalog.target_create(
        team=alice.memberships.get().team,
        data={
            "name": "Secret shop",
            "base_url": "http://127.0.0.1:9",
            "auth_type": "bearer",
            "auth_username": "svc",
            "auth_password": SECRETS[0],
            "auth_token": SECRETS[1],
            "headers": {
                "Authorization": SECRETS[2],
                "Cookie": SECRETS[3],
                "X-Api-Key": SECRETS[4],
                "Accept": "application/json",
            },
        },
        user=alice,
    )
    scenario = catalog.scenario_save(
        team=alice.memberships.get().team,
        data={"name": "Login", "think_time_min": 0.0, "think_time_max": 0.0},
        steps=[
            {
                "name": "login",
                "method": "POST",
                "path": "/login",
                "query": {"access_token": SECRETS[5], "page": "1"},
                "headers": {"X-Auth-Token": SECRETS[1]},
                "body_type": "json",
                "body": f'{{"user": "svc", "password": "{SECRETS[6]}"}}',
            },
        ],
        user=alice,
    )
    profile = catalog.profile_save(
        team=alice.memberships.get().team,
        name="Two for three",
        kind="constant",
        params={"users": 2, "duration": 3},
    )
    return catalog.plan_create(
        team=alice.memberships.get().team,
        data={"name": "Secret plan", "target": target, "scenario": scenario, "profile": profile},
        user=alice,
    )
