"""Seed finished one-hour staircase runs for the analysis benchmarks (issue 7).

Writes RunSecond, EndpointSecond and EndpointSummary rows with ``bulk_create`` into a database
of its own (``BENCH_DB``, default ``scaletest_analysis_bench``; bench/pages.py uses another),
then, with ``--measure``, times the run page and the comparison page with the Django test
client (median of ``--repeat`` after one warm-up) and ``run_summarise`` / ``run_analyse`` of
one run.

The runs are a staircase of 6 x 10 min (20 -> 120 users); per endpoint a log-normal latency
whose median grows with the users, 10-60 req/s per endpoint at the top step (~700 req/s in all
at 20 endpoints). Histograms use runs.histogram's bucket layout, built with numpy.

    .venv/bin/python bench/seed.py --runs 10 --endpoints 20          # seed (idempotent)
    .venv/bin/python bench/seed.py --runs 10 --endpoints 20 --measure
    .venv/bin/python bench/seed.py --profile "/runs/compare/?ids=1,2"  # cProfile of one request
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
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

SECONDS = 3600
STEP_SECONDS = 600
PLAN_NAME = "analysis bench {endpoints} endpoints"


def bucket_keys(us: np.ndarray) -> np.ndarray:
    """runs.histogram.bucket_key, vectorised (exact: bit lengths from integer shifts)."""
    us = np.maximum(us, 0).astype(np.int64)
    bits = np.zeros_like(us)
    v = us.copy()
    while (v > 0).any():
        bits += v > 0
        v >>= 1
    shift = np.maximum(bits - 11, 0)
    return np.where(us < 2048, us, (shift << 10) + (us >> shift))


def second_histograms(sec: np.ndarray, us: np.ndarray, seconds: int) -> list[dict[str, Any] | None]:
    """Per second: the stored histogram dict and its p50/p95/p99/max/mean (from the samples)."""
    order = np.lexsort((us, sec))
    sec, us = sec[order], us[order]
    keys = bucket_keys(us)
    bounds = np.searchsorted(sec, np.arange(seconds + 1), "left")
    out: list[dict[str, Any] | None] = []
    for t in range(seconds):
        a, b = bounds[t], bounds[t + 1]
        if a == b:
            out.append(None)
            continue
        k, c = np.unique(keys[a:b], return_counts=True)
        v = us[a:b]
        n = b - a
        pct = {q: float(v[max(1, -(-q * n // 100)) - 1]) / 1000.0 for q in (50, 95, 99)}
        out.append({
            "hist": {"k": k.tolist(), "c": c.tolist(), "min": int(v[0]), "max": int(v[-1]), "sum": int(v.sum())},
            "n": int(n), "p50": pct[50], "p95": pct[95], "p99": pct[99], "max": float(v[-1]) / 1000.0,
            "mean": float(v.mean()) / 1000.0,
        })
    return out


def users_at(t: np.ndarray) -> np.ndarray:
    return 20 + 20 * (t // STEP_SECONDS)


def seed_run(*, endpoints: int, seed: int, latency_factor: float = 1.0) -> int:
    from django.utils import timezone

    from runs.histogram import Histogram
    from runs.models import EndpointSecond, EndpointSummary, Run, RunSecond

    rng = np.random.default_rng(seed)
    t_all = np.arange(SECONDS)
    users = users_at(t_all)
    per_ep = []
    shape = np.random.default_rng(12345)  # same endpoints (rates, medians) in every run
    for _ in range(endpoints):
        base_rate, base_ms = shape.uniform(10, 60), shape.uniform(5, 150)
        n = rng.poisson(base_rate * users / 120)
        sec = np.repeat(t_all, n)
        median_ms = base_ms * latency_factor * (1 + (users_at(sec) / 120) ** 3)
        us = rng.lognormal(np.log(median_ms * 1000), 0.6).astype(np.int64) + 200
        per_ep.append((sec, us))

    snapshot = common.make_snapshot(
        "http://127.0.0.1:9/", [{"path": f"/api/e{e:03d}"} for e in range(endpoints)], users=120, duration=SECONDS
    )
    snapshot["profile"].update(
        kind="staircase",
        params={"start_users": 20, "step_users": 20, "step_duration": STEP_SECONDS, "steps": 6},
        peak_users=120,
    )
    start = timezone.now() - dt.timedelta(hours=2)
    run = Run.objects.create(
        plan=None, plan_name=PLAN_NAME.format(endpoints=endpoints), snapshot=snapshot, planned_seconds=SECONDS,
        status=Run.Status.FINISHED, started_at=start, finished_at=start + dt.timedelta(seconds=SECONDS),
        heartbeat_at=start, generator_host="analysis-bench", locust_version="2.47.0", last_t=SECONDS - 1,
    )
    overall = second_histograms(
        np.concatenate([s for s, _ in per_ep]), np.concatenate([u for _, u in per_ep]), SECONDS
    )
    total_req = sum(h["n"] for h in overall if h)
    RunSecond.objects.bulk_create(
        (
            RunSecond(
                run=run, t=t, users=int(users[t]), requests=h["n"] if h else 0, failures=0,
                bytes=(h["n"] if h else 0) * 800, cpu_percent=35.0 + users[t] / 4,
                p50_ms=h and h["p50"], p95_ms=h and h["p95"], p99_ms=h and h["p99"], max_ms=h and h["max"],
                mean_ms=h and h["mean"], histogram=h["hist"] if h else {},
            )
            for t, h in enumerate(overall)
        ),
        batch_size=2000,
    )
    summaries = []
    run_hist = Histogram()
    for e, (sec, us) in enumerate(per_ep):
        name = f"/api/e{e:03d}"
        rows = []
        total = Histogram()
        for t, h in enumerate(second_histograms(sec, us, SECONDS)):
            if h is None:
                continue
            rows.append(EndpointSecond(
                run=run, t=t, method="GET", name=name, requests=h["n"], failures=0, bytes=h["n"] * 800,
                p50_ms=h["p50"], p95_ms=h["p95"], p99_ms=h["p99"], max_ms=h["max"], histogram=h["hist"],
            ))
            total.merge(Histogram.from_dict(h["hist"]))
        EndpointSecond.objects.bulk_create(rows, batch_size=2000)
        run_hist.merge(total)
        ps = total.percentiles_ms((50, 90, 95, 99))
        summaries.append(EndpointSummary(
            run=run, method="GET", name=name, requests=total.total, failures=0, bytes=total.total * 800,
            rps=total.total / SECONDS, histogram=total.to_dict(), p50_ms=ps[50], p90_ms=ps[90], p95_ms=ps[95],
            p99_ms=ps[99], max_ms=total.max_ms, mean_ms=total.mean_ms,
        ))
    EndpointSummary.objects.bulk_create(summaries)
    ps = run_hist.percentiles_ms((50, 95, 99))
    Run.objects.filter(pk=run.pk).update(
        total_requests=total_req, total_bytes=total_req * 800, p50_ms=ps[50], p95_ms=ps[95], p99_ms=ps[99],
        max_ms=run_hist.max_ms,
    )
    return run.pk


def seeded(*, endpoints: int, count: int) -> list[int]:
    """Ids of ``count`` seeded runs, seeding the missing ones (every third is 20 % slower)."""
    from runs.models import Run

    have = list(
        Run.objects.filter(plan_name=PLAN_NAME.format(endpoints=endpoints), status="finished")
        .order_by("pk").values_list("pk", flat=True)
    )
    while len(have) < count:
        t0 = time.monotonic()
        factor = 1.2 if len(have) % 3 == 2 else 1.0
        pk = seed_run(endpoints=endpoints, seed=endpoints * 1000 + len(have), latency_factor=factor)
        print(f"seeded run {pk} ({endpoints} endpoints, latency x{factor}) in {time.monotonic() - t0:.1f} s",
              flush=True)
        have.append(pk)
    return have[:count]


# -- measuring ---------------------------------------------------------------------------------
def client() -> Any:
    from django.contrib.auth import get_user_model
    from django.test import Client

    c = Client(HTTP_HOST="127.0.0.1")
    user, _ = get_user_model().objects.get_or_create(username="bench")
    c.force_login(user)
    return c


def timed_get(c: Any, path: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    r = c.get(path)
    ms = (time.perf_counter() - t0) * 1000
    assert r.status_code == 200, (path, r.status_code)
    return ms, len(r.content)


def forget_analysis(ids: list[int]) -> None:
    """Drop stored analyses and cached figures so the next request computes from rows."""
    from django.core.cache import cache

    cache.clear()
    try:
        from runs.models import RunAnalysis  # type: ignore[attr-defined]
    except ImportError:
        return
    RunAnalysis.objects.filter(run_id__in=ids).delete()


def measure(ids: list[int], repeat: int) -> None:
    from django.urls import reverse

    c = client()
    pages = {
        "run page": reverse("runs-detail", args=[ids[0]]),
        f"compare {len(ids)} runs": reverse("runs-compare") + "?ids=" + ",".join(map(str, ids)),
    }
    for label, path in pages.items():
        forget_analysis(ids)
        first, size = timed_get(c, path)
        times = [timed_get(c, path)[0] for _ in range(repeat)]
        print(f"{label}: first load {first:.0f} ms; then median {statistics.median(times):.0f} ms "
              f"(min {min(times):.0f}, max {max(times):.0f}) of {repeat}; {size} bytes", flush=True)

    from runs.services import results

    t0 = time.perf_counter()
    results.run_summarise(run_id=ids[0])
    summarise_ms = (time.perf_counter() - t0) * 1000
    print(f"run_summarise (1 h, {len(ids)} runs seeded): {summarise_ms:.0f} ms", flush=True)
    try:
        from runs.services.analysis import run_analyse  # type: ignore[import-not-found]
    except ImportError:
        return
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        analysis = run_analyse(run_id=ids[0])
        times.append((time.perf_counter() - t0) * 1000)
    import json

    size = len(json.dumps(analysis.data))
    print(f"run_analyse: median {statistics.median(times):.0f} ms of 3; data {size} bytes of JSON", flush=True)


def profile(path: str, top: int) -> None:
    c = client()
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
    args = ap.parse_args()
    common.django_setup()
    ids = seeded(endpoints=args.endpoints, count=args.runs)
    print("runs:", ",".join(map(str, ids)), flush=True)
    if args.measure:
        measure(ids, args.repeat)
    if args.profile:
        profile(args.profile, args.top)


if __name__ == "__main__":
    main()
