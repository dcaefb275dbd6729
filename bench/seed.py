"""Seed finished one-hour staircase runs for the analysis benchmarks (issue 7).

Writes RunSecond, EndpointSecond and EndpointSummary rows with ``bulk_create`` into a database
of its own (``BENCH_DB``, default ``scaletest_analysis_bench``; bench/pages.py uses another),
then, with ``--measure``, times the run page and the comparison page with the Django test
client (median of ``--repeat`` after one warm-up) and ``run_summarise`` / ``run_analyse`` of
one run.

The runs are a staircase of 6 x 10 min (20 -> 120 users); per endpoint a log-normal latency
whose median grows with the users, 10-60 req/s per endpoint at the top step (~700 req/s in all
at 20 endpoints). Histograms use runs.core.histogram's bucket layout, built with numpy.

    .venv/bin/python bench/seed.py --runs 10 --endpoints 20          # seed (idempotent)
    .venv/bin/python bench/seed.py --runs 10 --endpoints 20 --measure
    .venv/bin/python bench/seed.py --profile "/runs/compare/?ids=1,2"  # cProfile of one request
    .venv/bin/python bench/seed.py --smoke      # 2 two-minute runs x 2 endpoints, measured once
    .venv/bin/python bench/seed.py --db sqlite --measure

The pages are requested as the benchmark team's admin (bench/common.py).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("BENCH_DB", "scaletest_analysis_bench")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import numpy as np  # noqa: E402
from simulated import SECONDS, SMOKE_SECONDS, store_run, users_at  # noqa: E402


def plan_name(endpoints: int, seconds: int) -> str:
    return f"analysis bench {endpoints} endpoints" + ("" if seconds == SECONDS else f", {seconds} s")


def seed_run(*, endpoints: int, seed: int, latency_factor: float = 1.0, seconds: int = SECONDS) -> int:
    rng = np.random.default_rng(seed)
    t_all = np.arange(seconds)
    users = users_at(t_all, seconds)
    per_ep = []
    shape = np.random.default_rng(12345)  # same endpoints (rates, medians) in every run
    for _ in range(endpoints):
        base_rate, base_ms = shape.uniform(10, 60), shape.uniform(5, 150)
        n = rng.poisson(base_rate * users / 120)
        sec = np.repeat(t_all, n)
        median_ms = base_ms * latency_factor * (1 + (users_at(sec, seconds) / 120) ** 3)
        us = rng.lognormal(np.log(median_ms * 1000), 0.6).astype(np.int64) + 200
        per_ep.append((sec, us))
    return store_run(
        per_ep=per_ep,
        plan_name=plan_name(endpoints, seconds),
        generator_host="analysis-bench",
        seconds=seconds,
    )


def seeded(*, endpoints: int, count: int, seconds: int = SECONDS) -> list[int]:
    """Ids of ``count`` seeded runs, seeding the missing ones (every third is 20 % slower)."""
    from runs.models import Run

    have = list(
        Run.objects.filter(plan_name=plan_name(endpoints, seconds), status="finished")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    while len(have) < count:
        t0 = time.monotonic()
        factor = 1.2 if len(have) % 3 == 2 else 1.0
        pk = seed_run(
            endpoints=endpoints, seed=endpoints * 1000 + len(have), latency_factor=factor, seconds=seconds
        )
        print(
            f"seeded run {pk} ({endpoints} endpoints, latency x{factor}) in {time.monotonic() - t0:.1f} s",
            flush=True,
        )
        have.append(pk)
    return have[:count]


# -- measuring ---------------------------------------------------------------------------------
def timed_get(c: Any, path: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    r = common.get_ok(c, path)
    ms = (time.perf_counter() - t0) * 1000
    return ms, len(r.content)


def forget_analysis(ids: list[int]) -> None:
    """Drop stored analyses and cached figures so the next request computes from rows."""
    from django.core.cache import cache

    from runs.models import RunAnalysis

    cache.clear()
    RunAnalysis.objects.filter(run_id__in=ids).delete()


def measure(ids: list[int], repeat: int) -> None:
    from django.urls import reverse

    c = common.bench_client()
    rows: list[tuple[str, str, str]] = []
    pages = {
        "run page": reverse("runs-detail", args=[ids[0]]),
        f"compare {len(ids)} runs": reverse("runs-compare") + "?ids=" + ",".join(map(str, ids)),
    }
    for label, path in pages.items():
        forget_analysis(ids)
        first, size = timed_get(c, path)
        times = [timed_get(c, path)[0] for _ in range(repeat)]
        print(
            f"{label}: first load {first:.0f} ms; then median {statistics.median(times):.0f} ms "
            f"(min {min(times):.0f}, max {max(times):.0f}) of {repeat}; {size} bytes",
            flush=True,
        )
        rows.append((label, f"{first:.0f}", f"{statistics.median(times):.0f} ({size:,} bytes)"))

    from runs.services import results

    t0 = time.perf_counter()
    results.run_summarise(run_id=ids[0])
    summarise_ms = (time.perf_counter() - t0) * 1000
    print(f"run_summarise (1 run of {len(ids)} seeded): {summarise_ms:.0f} ms", flush=True)
    rows.append(("run_summarise", f"{summarise_ms:.0f}", ""))
    from runs.services.analysis import run_analyse

    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        analysis = run_analyse(run_id=ids[0])
        times.append((time.perf_counter() - t0) * 1000)
    import json

    size = len(json.dumps(analysis.data))
    print(
        f"run_analyse: median {statistics.median(times):.0f} ms of 3; data {size} bytes of JSON", flush=True
    )
    rows.append(
        ("run_analyse", f"{times[0]:.0f}", f"{statistics.median(times):.0f} of 3 ({size:,} bytes of JSON)")
    )
    print(f"\n{len(ids)} runs; ms")
    print("| measured | first (ms) | then, median (ms) |")
    print("|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def profile(path: str, top: int) -> None:
    c = common.bench_client()
    timed_get(c, path)  # warm-up (and lazy analysis)
    prof = cProfile.Profile()
    prof.enable()
    timed_get(c, path)
    prof.disable()
    pstats.Stats(prof).sort_stats("cumulative").print_stats(top)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--endpoints", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--measure", action="store_true")
    ap.add_argument("--profile", metavar="PATH")
    ap.add_argument("--top", type=int, default=40)
    common.add_size_arguments(ap, smoke="2 two-minute runs x 2 endpoints, then --measure with 1 repeat")
    common.add_db_argument(ap)
    args = ap.parse_args()
    seconds = SECONDS
    if args.smoke:
        args.runs, args.endpoints, args.repeat, args.measure, seconds = 2, 2, 1, True, SMOKE_SECONDS
    common.django_setup(db=args.db)
    ids = seeded(endpoints=args.endpoints, count=args.runs, seconds=seconds)
    print("runs:", ",".join(map(str, ids)), flush=True)
    if args.measure:
        measure(ids, args.repeat)
    if args.profile:
        profile(args.profile, args.top)


if __name__ == "__main__":
    main()
