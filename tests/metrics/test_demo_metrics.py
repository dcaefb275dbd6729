"""The demo target's own /metrics and the seeded demo plan that scrapes it."""

from __future__ import annotations

import threading
import time
import urllib.request
from typing import Any

from runs.core.demo_target import start_demo_target
from runs.core.metrics.scrape import evaluate_series, parse_page
from runs.core.metrics.series import DEMO_TARGET_SCRAPE
from runs.models import MetricSource
from runs.services.demo import demo_seed
from runs.services.runs import plan_snapshot


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def test_the_demo_targets_metrics_count_slots_queue_and_served_requests() -> None:
    target = start_demo_target(slots=2, slot_ms=1500.0)
    try:
        first = parse_page(get(f"{target.url}/metrics"), at=0.0)
        assert first.samples["demo_slots"][0][1] == 2.0
        assert first.samples["demo_requests_served_total"][0][1] == 0.0
        # Three requests at once on two slots: two busy, one queued.
        threads = [threading.Thread(target=get, args=(f"{target.url}/slots",)) for _ in range(3)]
        for thread in threads:
            thread.start()
        # Read until all three have arrived (they hold their slots 1.5 s).
        deadline = time.monotonic() + 1.2
        while True:
            busy = parse_page(get(f"{target.url}/metrics"), at=0.1)
            if busy.samples["demo_queue_length"][0][1] >= 1 or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        for thread in threads:
            thread.join(5)
        after = parse_page(get(f"{target.url}/metrics"), at=1.0)
    finally:
        target.stop()
    values = evaluate_series(DEMO_TARGET_SCRAPE, busy, first)
    assert values["slots_busy"] == 2.0 and values["queue_length"] == 1.0
    # /metrics itself is not counted; the three /slots requests are.
    assert after.samples["demo_requests_served_total"][0][1] == 3.0
    assert target.stats()["served"] == 3


def test_the_seeded_demo_target_scrapes_its_own_metrics(db: None, alice: Any) -> None:
    team = alice.memberships.get().team
    plan = demo_seed(base_url="http://127.0.0.1:8089", team=team)
    demo_seed(base_url="http://127.0.0.1:8089", team=team)  # idempotent
    [source] = MetricSource.objects.filter(target=plan.target)
    assert (source.kind, source.url) == ("scrape", "http://127.0.0.1:8089/metrics")
    assert [s["name"] for s in source.series] == ["slots_busy", "queue_length", "requests_served"]
    assert plan_snapshot(plan=plan)["metric_sources"][0]["series"][0]["limit"] == 8


def test_the_demo_plans_steps_are_long_enough_for_a_confident_first_analysis(db: None, alice: Any) -> None:
    """A newcomer's first analysis is not "low confidence": the profile form says nothing
    against the demo's steps, and each keeps the trusted steady seconds even when its users
    take a second to start."""
    from runs.core.analysis.planned import TRUSTED_STEADY_SECONDS, planned_levels, warmup_seconds
    from runs.core.profiles import build_plan
    from runs.selectors.catalog import profile_preview

    plan = demo_seed(base_url="http://127.0.0.1:8089", team=alice.memberships.get().team)
    profile = plan.profile
    assert profile_preview(kind=profile.kind, params=profile.params)["step_advice"] == ""
    levels = planned_levels(build_plan(profile.kind, profile.params))
    assert [level.users for level in levels] == [2, 6, 10, 14, 18]  # the knee, 8, lies inside
    for level in levels:
        started_late = int(level.seconds) - 1
        assert started_late - warmup_seconds(started_late) >= TRUSTED_STEADY_SECONDS
