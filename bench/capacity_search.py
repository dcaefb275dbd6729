"""Capacity search against a fixed staircase: steps and seconds of load to the same answer.

Benchmark 11 of docs/benchmarks.md (issue 18). The search (runs.core.capacity_search, the same
state machine the Locust child runs) is fed simulated seconds of targets of known capacity: K
slots × S ms, N users (no think time) waiting max(S, N·S/K) ms with ±3 % jitter, or an arrival
rate beyond K/S queueing without end. For each case it prints the search's steps, seconds of
load and final bracket, and what a fixed staircase covering the same range (start → ceiling)
needs to locate the capacity to the same resolution (the width of the search's bracket): one
step per resolution, each as long as the search's shortest step (settle + minimum length), and
at the 15 s per step that a trustworthy staircase analysis asks for.

No database, no network: the figures measure the search's decisions, not a machine. Real runs
against the demo target are in tests/engine/test_capacity_search_truth.py (printed with -s).
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runs.core import capacity_search as cs  # noqa: E402
from runs.core.histogram import Histogram  # noqa: E402
from runs.core.thresholds import parse_thresholds  # noqa: E402

TRUSTED_STEP_SECONDS = 15
# id, model, slots, slot ms, objective, start, ceiling, theory
CASES = [
    ("K8 S20 p95<50ms", cs.USERS, 8, 20.0, "p95 < 50 ms", 2, 200, 20.0),
    ("K32 S50 p95<200ms", cs.USERS, 32, 50.0, "p95 < 200 ms", 5, 1000, 128.0),
    ("K10 S50 throughput", cs.USERS, 10, 50.0, "", 2, 500, 10.0),
    ("K4 S50 open p95<200ms", cs.RATE, 4, 50.0, "p95 < 200 ms", 10, 2000, 80.0),
]


def second(load: float, *, model: str, slots: int, slot_ms: float, backlog: list[float], rng: random.Random):
    """One simulated second at ``load``: {endpoint: sample} and dropped iterations."""
    capacity = slots * 1000.0 / slot_ms
    hist = Histogram()
    if model == cs.USERS:
        latency = max(slot_ms, load * slot_ms / slots)
        served = min(load * 1000.0 / slot_ms, capacity)
    else:
        backlog[0] = max(0.0, backlog[0] + load - capacity)
        latency = slot_ms + 1000.0 * backlog[0] / capacity
        served = min(load, capacity)
    n = int(served)
    for _ in range(n):
        hist.record_ms(latency * rng.uniform(0.97, 1.03))
    return {("GET", "/slots"): cs.EndpointSample(n, 0, hist)}


def run_case(case: tuple, *, seed: int, min_step: int) -> dict[str, float]:
    name, model, slots, slot_ms, objective, start, ceiling, theory = case
    config = cs.SearchConfig(
        model=model,
        start=start,
        ceiling=ceiling,
        budget_seconds=3600,
        objective=tuple(parse_thresholds(objective)),
        min_step_seconds=min_step,
    )
    search = cs.CapacitySearch(config)
    rng = random.Random(seed)
    backlog = [0.0]
    load, t = search.load, 0
    while not search.done and t < 3600:
        if search.load != load:
            load, backlog[0] = search.load, 0.0
        search.feed(
            t, second(search.load, model=model, slots=slots, slot_ms=slot_ms, backlog=backlog, rng=rng)
        )
        t += 1
    assert search.outcome is not None
    low, high = search.outcome.low, search.outcome.high
    assert low is not None and high is not None, search.outcome
    resolution = high - low
    step_seconds = config.settle_seconds + min_step
    stair_steps = math.ceil((ceiling - start) / resolution) + 1
    return {
        "steps": len(search.decisions),
        "seconds": search.decisions[-1].end_t + 1,
        "low": low,
        "high": high,
        "error": low / theory - 1.0,
        "stair_steps": stair_steps,
        "stair_seconds": stair_steps * step_seconds,
        "stair_seconds_15": stair_steps * TRUSTED_STEP_SECONDS,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--smoke", action="store_true", help="1 seed per case")
    size.add_argument("--quick", action="store_true", help="3 seeds per case")
    parser.add_argument("--min-step", type=int, default=5, help="the search's shortest step (s)")
    args = parser.parse_args()
    seeds = 1 if args.smoke else 3 if args.quick else 10
    print(f"capacity search vs fixed staircase: {seeds} seeds per case, shortest step {args.min_step} s")
    print()
    print(
        "| case | theory | found (median) | error (worst) | search steps | search s of load "
        "| staircase steps (same resolution) | staircase s at the same step length "
        "| staircase s at 15 s steps |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for case in CASES:
        results = [run_case(case, seed=s, min_step=args.min_step) for s in range(seeds)]
        worst = max(results, key=lambda r: abs(r["error"]))
        print(
            f"| {case[0]} | {case[7]:g} | {statistics.median(r['low'] for r in results):g} "
            f"(bracket {statistics.median(r['high'] - r['low'] for r in results):g}) | {worst['error']:+.1%} "
            f"| {statistics.median(r['steps'] for r in results):g} "
            f"| {statistics.median(r['seconds'] for r in results):g} "
            f"| {statistics.median(r['stair_steps'] for r in results):g} "
            f"| {statistics.median(r['stair_seconds'] for r in results):g} "
            f"| {statistics.median(r['stair_seconds_15'] for r in results):g} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
