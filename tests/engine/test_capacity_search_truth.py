"""Capacity searches against targets of known capacity, measured for real.

A real Locust child runs the search against the demo target's ``/slots`` (K slots, each request
holding one for S ms): it serves K / S requests per second; with think time Z (none, or a
configured one) the throughput stops growing at N* = K·(S + Z)/S users; an arrival rate above
K / S queues without end. A real load generator adds its own time between two requests of a
user (a few ms, more on a busy machine): it acts as think time, so the knee's theory uses the
think time the first step measured (its users / throughput − response time, far below the
knee), not only the configured one; likewise the open model's service rate is K over the service
time its first step measured (S plus the target's own few ms per request). The child decides
every step from its own histograms and streams the decisions; the run stores them and the
answer states the capacity. Each search is bounded by a budget of at most 45 s of load. The
found figures are printed (``-s``) for docs/benchmarks.md.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from runs.core import capacity_search as cs
from runs.core.demo_target import start_demo_target
from runs.core.histogram import Histogram
from runs.engine.runner import run_execute
from runs.models import Run
from runs.selectors.capacity_search import run_search_view
from runs.services.runs import plan_snapshot, run_claim

pytestmark = [
    pytest.mark.slow,
    pytest.mark.first_database_only(
        reason=(
            "measures the load generator against a target of known capacity; the database only stores"
            " what it measured, through the ingestion tests/engine/test_runs.py and "
            "tests/safety/test_faults.py check on both databases; a search run's stored decisions are"
            " read back on both by tests/pages/test_capacity_search_pages.py"
        )
    ),
]


def run_search_plan(make_plan: Any, url: str, path: str, kind: str, params: dict[str, Any], **kw: Any) -> Run:
    plan = make_plan(url, path, profile_kind=kind, params=params, **kw)
    snapshot = plan_snapshot(plan=plan)
    run = Run.objects.create(
        team=plan.team,
        plan=plan,
        plan_name=plan.name,
        snapshot=snapshot,
        planned_seconds=snapshot["profile"]["duration"],
    )
    assert run_claim(run_id=run.pk)
    assert run_execute(run_id=run.pk) == Run.Status.FINISHED
    run.refresh_from_db()
    return run


def knee_theory(view: dict[str, Any], *, slots: int, slot_ms: float) -> float:
    """N* = K·(S + Z)/S with Z the first step's measured cycle time less its response time."""
    first = view["steps"][0]
    think = first["load"] / first["goodput"] - first["p50_ms"] / 1000.0
    return slots * (slot_ms / 1000.0 + think) / (slot_ms / 1000.0)


def report(name: str, run: Run, theory: float) -> dict[str, Any]:
    view = run_search_view(run=run)
    assert view is not None
    outcome = view["outcome"]
    steps = view["steps"]
    line = (
        f"\n[capacity-search] {name}: status {outcome['status']}, bracket {outcome['low']}–{outcome['high']} "
        f"(theory {theory:.1f}), {len(steps)} steps, {steps[-1]['end_t'] + 1} s; "
        f"steps {[(s['load'], s['passed'], s['start_t'], s['end_t'], s['decided_by']) for s in steps]}\n"
        f"  {view['answer']}"
    )
    print(line)
    if os.environ.get("CAPACITY_SEARCH_REPORT"):  # a file for docs/benchmarks.md
        with open(os.environ["CAPACITY_SEARCH_REPORT"], "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    return view


def test_until_throughput_stops_growing_finds_the_slots_of_a_target_without_think_time(
    db: None, make_plan: Any
) -> None:
    # 6 slots × 50 ms, no think time: throughput grows linearly up to N* = 6 users (and a little
    # more: the generator's own time between requests).
    target = start_demo_target(slots=6, slot_ms=50.0)
    try:
        run = run_search_plan(
            make_plan,
            target.url,
            "/slots",
            "search_users",
            {"objective": "", "start_users": 2, "ceiling_users": 64, "budget": 40, "min_step": 3},
        )
    finally:
        target.stop()
    view = run_search_view(run=run)
    assert view is not None and view["steps"]
    theory = knee_theory(view, slots=6, slot_ms=50.0)
    report("K6 S50 throughput", run, theory)
    # The generator's own time between requests stays small; the first step's median response
    # time can sit a little above its mean (5.99 users seen), so the bound allows a few percent under 6.
    assert 5.7 <= theory < 7.5
    assert view["outcome"]["status"] == cs.FOUND
    assert view["outcome"]["low"] == pytest.approx(theory, rel=0.10)
    assert view["answer"].startswith(f"Capacity: {view['outcome']['low']:.0f} users / ")
    assert "(throughput stops growing)" in view["answer"]
    for step in view["steps"]:
        # Each step's load is what the stored seconds show running, and its figures are those
        # of the stored exact histograms over the seconds it judged.
        seconds = run.seconds.filter(t__gte=step["start_t"], t__lte=step["end_t"])
        assert set(seconds.values_list("users", flat=True)) == {int(step["load"])}, step
        rows = run.endpoint_seconds.filter(t__gte=step["start_t"], t__lte=step["end_t"])
        merged = Histogram.merged(Histogram.load(h) for h in rows.values_list("histogram", flat=True))
        assert merged.total == step["requests"]
        assert merged.percentile_ms(95) == pytest.approx(step["p95_ms"])


def test_until_throughput_stops_growing_finds_the_knee_with_think_time(db: None, make_plan: Any) -> None:
    # 4 slots × 50 ms, think 0.1–0.3 s: N* = 4·(0.05 + 0.2)/0.05 = 20 users.
    target = start_demo_target(slots=4, slot_ms=50.0)
    try:
        run = run_search_plan(
            make_plan,
            target.url,
            "/slots",
            "search_users",
            {"objective": "", "start_users": 5, "ceiling_users": 200, "budget": 40, "min_step": 3},
            think_time_min=0.1,
            think_time_max=0.3,
        )
    finally:
        target.stop()
    view = run_search_view(run=run)
    assert view is not None and view["steps"]
    theory = knee_theory(view, slots=4, slot_ms=50.0)
    report("K4 S50 Z0.2 throughput", run, theory)
    # Configured think time 0.2 s on average, plus the generator's own; the first step's sample
    # of uniform 0.1–0.3 s think times can average a little under 0.2 s (19.8 users seen).
    assert 18.0 <= theory < 23.0
    assert view["outcome"]["status"] == cs.FOUND
    assert view["outcome"]["low"] == pytest.approx(theory, rel=0.10)
    assert "(throughput stops growing)" in view["answer"]


def test_an_arrival_rate_search_finds_the_service_rate(db: None, make_plan: Any) -> None:
    # 2 slots × 50 ms serve 40 iterations/s; above that the queue grows without end.
    target = start_demo_target(slots=2, slot_ms=50.0)
    try:
        run = run_search_plan(
            make_plan,
            target.url,
            "/slots",
            "search_rate",
            {
                "objective": "p95 < 200 ms",
                "start_rate": 20,
                "ceiling_rate": 400,
                "max_in_flight": 20,
                "budget": 45,
                "min_step": 2,
            },
        )
    finally:
        target.stop()
    view = run_search_view(run=run)
    assert view is not None and view["steps"]
    service_ms = view["steps"][0]["p50_ms"]  # at half the service rate: no queue
    theory = 2 * 1000.0 / service_ms
    report("K2 S50 open p95<200ms", run, theory)
    assert 36.0 <= theory <= 40.0  # K/S = 40, less the target's own time per request
    assert view["outcome"]["status"] == cs.FOUND
    assert view["outcome"]["low"] == pytest.approx(theory, rel=0.10)
    assert view["answer"].startswith(f"Capacity: {view['outcome']['low']:g} it/s / ")


def test_targets_that_fail_at_start_never_fail_or_error_out_are_answered(db: None, make_plan: Any) -> None:
    target = start_demo_target(slots=2, slot_ms=10.0)
    try:
        slow = run_search_plan(
            make_plan,
            target.url,
            "/delay",
            "search_users",
            {"objective": "p95 < 20 ms", "start_users": 2, "ceiling_users": 10, "budget": 20, "min_step": 2},
            name="slow",
            query={"ms": "30"},
        )
        fast = run_search_plan(
            make_plan,
            target.url,
            "/slots",
            "search_users",
            {"objective": "p95 < 2 s", "start_users": 1, "ceiling_users": 2, "budget": 20, "min_step": 2},
            name="fast",
        )
        broken = run_search_plan(
            make_plan,
            target.url,
            "/status/503",
            "search_users",
            {"objective": "p95 < 500 ms", "start_users": 2, "ceiling_users": 10, "budget": 20, "min_step": 2},
            name="broken",
        )
    finally:
        target.stop()
    slow_view = report("fails at start", slow, 0)
    assert slow_view["outcome"]["status"] == cs.BELOW_START
    assert slow_view["answer"].startswith(
        "Capacity is below the start load: 2 users already broke the SLO p95 < 20 ms"
    )
    fast_view = report("never fails", fast, 0)
    assert fast_view["outcome"]["status"] == cs.ABOVE_CEILING
    assert "the ceiling of 2 users never broke it" in fast_view["answer"]
    broken_view = report("errors out", broken, 0)
    assert broken_view["outcome"]["status"] == cs.ERRORS
    assert broken_view["answer"].startswith("No capacity: at the start load of 2 users no request succeeded")
    assert "503" in broken_view["answer"]


def test_a_cancelled_search_keeps_its_decisions_and_ends_as_stopped(
    transactional_db: None, make_plan: Any
) -> None:
    import threading
    import time

    from runs.services.runs import run_cancel

    target = start_demo_target(slots=2, slot_ms=20.0)
    try:
        plan = make_plan(
            target.url,
            "/slots",
            profile_kind="search_users",
            params={
                "objective": "p95 < 5 s",
                "start_users": 1,
                "ceiling_users": 500,
                "budget": 120,
                "min_step": 2,
            },
        )
        snapshot = plan_snapshot(plan=plan)
        run = Run.objects.create(
            team=plan.team,
            plan=plan,
            plan_name=plan.name,
            snapshot=snapshot,
            planned_seconds=snapshot["profile"]["duration"],
        )
        assert run_claim(run_id=run.pk)
        status: list[str] = []
        worker = threading.Thread(target=lambda: status.append(run_execute(run_id=run.pk)))
        worker.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.capacity_search and len(run.capacity_search["decisions"]) >= 2:
                break
            time.sleep(0.5)
        run_cancel(run=run)
        worker.join(60)
    finally:
        target.stop()
    assert status == [Run.Status.CANCELLED]
    run.refresh_from_db()
    stored = run.capacity_search
    assert stored is not None and stored["outcome"]["status"] == cs.STOPPED
    assert len(stored["decisions"]) >= 2 and all(d["passed"] for d in stored["decisions"])
    view = run_search_view(run=run)
    assert view is not None
    assert "no higher load was judged (The run stopped before the search ended.)" in view["answer"]
