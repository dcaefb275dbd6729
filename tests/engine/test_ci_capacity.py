"""``manage.py ci_run`` on a capacity-search plan: a real worker and Locust child search a demo
target, and the capacity gate decides the exit code and the JUnit cases."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from runs.core.demo_target import start_demo_target
from runs.models import Run
from tests.engine.test_ci_run import _ci_run

pytestmark = [
    pytest.mark.slow,
    pytest.mark.first_database_only(
        reason=(
            "the CI gate's arithmetic over a capacity search; searches are stored and read back on "
            "both by tests/pages/test_capacity_search_pages.py"
        )
    ),
]


def test_ci_run_fails_a_search_below_the_minimum_and_passes_within_the_baseline_margin(
    transactional_db: None, live_worker: Any, make_plan: Any, tmp_path: Path
) -> None:
    get_user_model().objects.create_superuser("root", "root@example.com", "root-password-123")
    # 2 slots × 10 ms: 8 users wait about 40 ms, far below the objective: the ceiling holds.
    target = start_demo_target(slots=2, slot_ms=10.0)
    try:
        plan = make_plan(
            target.url,
            "/slots",
            profile_kind="search_users",
            params={
                "objective": "p95 < 500 ms",
                "start_users": 2,
                "ceiling_users": 8,
                "budget": 25,
                "min_step": 2,
            },
            name="Find CI",
        )
        junit = tmp_path / "min.xml"
        code, output = _ci_run(
            str(plan.pk), "--min-capacity", "50", "--junit-xml", str(junit), "--interval", "2"
        )
        assert code == 1, output
        assert "Result: FAILED (capacity)" in output
        first = Run.objects.get(plan=plan)
        assert first.capacity_search and first.capacity_search["outcome"] is not None
        assert first.capacity_search["outcome"]["status"] == "above_ceiling", first.capacity_search
        low = max(d["load"] for d in first.capacity_search["decisions"] if d["passed"])
        assert low == 8 and "Capacity: 8 users / " in output
        assert "the ceiling of 8 users never broke it" in output
        assert f"capacity >= 50 users: FAILED (capacity {low:g} users, required at least 50 users)" in output
        suite = ET.parse(junit).getroot().find("testsuite")
        assert suite is not None and (suite.get("tests"), suite.get("failures"), suite.get("errors")) == (
            "2",
            "1",
            "0",
        )

        plan.baseline_run = first
        plan.save(update_fields=["baseline_run"])
        code, output = _ci_run(str(plan.pk), "--max-capacity-drop", "60", "--interval", "2")
        assert code == 0, output
        assert f"capacity within 60% of baseline run #{first.pk}: PASSED" in output
        assert "Result: PASSED" in output
    finally:
        target.stop()
