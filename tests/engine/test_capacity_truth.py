"""The knee and the maximum throughput against targets of known capacity, measured for real.

A real Locust child loads the demo target's ``/slots`` endpoint: K slots, each request holding
one for S ms, so it serves at most K / S requests per second and, with think time Z, a closed
workload saturates it at N* = K·(S + Z)/S users. The analysis must put the knee within 15 % of
N* and the maximum throughput within 5 % of what the target itself served over the same
seconds (its own counter, sampled while the run goes). Few and short: each run is under a
minute. The measured figures are printed (``-s``) for docs/benchmarks.md.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from runs.core.demo_target import start_demo_target
from runs.engine.runner import run_execute
from runs.models import Run
from runs.services.analysis import run_analyse
from runs.services.runs import plan_snapshot, run_claim

pytestmark = [
    pytest.mark.slow,
    pytest.mark.first_database_only(
        reason=(
            "measures the load generator against a target of known capacity; the database only stores"
            " what it measured, through the ingestion tests/engine/test_runs.py and "
            "tests/safety/test_faults.py check on both databases"
        )
    ),
]

CASES = [
    # id, slots K, slot ms S, think time (min, max) s, staircase (start, step, seconds, steps)
    pytest.param(10, 20.0, (0.0, 0.0), (3, 3, 8, 6), id="K10-S20-8s"),
    pytest.param(4, 50.0, (0.0, 0.0), (1, 1, 5, 7), id="K4-S50-5s"),
    pytest.param(8, 50.0, (0.15, 0.25), (16, 16, 15, 4), id="K8-S50-Z0.2-15s"),
]


class CounterSampler:
    """The target's own request count, sampled every 100 ms with the wall-clock time."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            self.samples.append((time.time(), int(self.target.stats()["paths"].get("/slots", 0))))
            self.stop.wait(0.1)

    def count_at(self, when: float) -> float:
        """The count at ``when``, interpolated between the two samples around it."""
        before = max((s for s in self.samples if s[0] <= when), default=self.samples[0])
        after = min((s for s in self.samples if s[0] >= when), default=self.samples[-1])
        if after[0] == before[0]:
            return float(before[1])
        return before[1] + (after[1] - before[1]) * (when - before[0]) / (after[0] - before[0])


@pytest.mark.parametrize(("slots", "slot_ms", "think", "stairs"), CASES)
def test_the_knee_and_max_throughput_match_a_target_of_known_capacity(
    db: None, make_plan: Any, slots: int, slot_ms: float, think: tuple[float, float], stairs: tuple[int, ...]
) -> None:
    start, step, seconds, steps = stairs
    target = start_demo_target(slots=slots, slot_ms=slot_ms)
    try:
        plan = make_plan(
            target.url,
            "/slots",
            profile_kind="staircase",
            params={"start_users": start, "step_users": step, "step_duration": seconds, "steps": steps},
            think_time_min=think[0],
            think_time_max=think[1],
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
        sampler = CounterSampler(target)
        try:
            assert run_execute(run_id=run.pk) == Run.Status.FINISHED
        finally:
            sampler.stop.set()
            sampler.thread.join(5)
    finally:
        target.stop()
    run.refresh_from_db()
    data = run_analyse(run_id=run.pk).data
    knee = data["knee"]
    z = (think[0] + think[1]) / 2
    truth = slots * (slot_ms / 1000 + z) / (slot_ms / 1000)

    top = max(data["steps"], key=lambda s: s["throughput_rps"])
    assert run.started_at is not None
    t0 = run.started_at.timestamp()
    served = (sampler.count_at(t0 + top["end_t"] + 1) - sampler.count_at(t0 + top["start_t"])) / (
        top["end_t"] - top["start_t"] + 1
    )
    measured = [(s["users"], round(s["throughput_rps"], 1), round(s["mean_ms"], 1)) for s in data["steps"]]
    knee_users, max_rps = knee["knee_users"] or float("nan"), knee["max_throughput_rps"]
    print(
        f"\n[capacity] K={slots} S={slot_ms:g} ms Z={z:g} s steps {seconds} s: knee {knee_users} users "
        f"(truth {truth:.1f}, {knee_users / truth - 1:+.1%}), plateau step {knee['saturated_users']}, "
        f"max {max_rps:.1f} req/s vs target {served:.1f} req/s ({max_rps / served - 1:+.1%}); "
        f"K/S = {slots / slot_ms * 1000:.0f}; steps (users, req/s, mean ms) {measured}"
    )
    assert [s["users"] for s in data["steps"]] == [start + i * step for i in range(steps)]
    assert knee["status"] == "knee", knee["headline"]
    assert knee["knee_users"] == pytest.approx(truth, rel=0.15)
    assert knee["max_throughput_rps"] == pytest.approx(served, rel=0.05)
    assert knee["headline"].startswith(f"Tops out at {knee['max_throughput_rps']:.0f} req/s; beyond ~")
