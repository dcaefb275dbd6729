"""Simulated staircase runs written straight into the result tables (bench only).

Shared by bench/pages.py (benchmarks 3 and 4a), bench/exports.py, bench/profile_page.py,
bench/storage.py's smoke size and bench/seed.py (analysis benchmarks): the histograms use
runs.core.histogram's bucket layout, built with numpy from simulated latencies, and the rows are
written with bulk_create as ingestion would have left them.

A run is a staircase of 6 equal steps, 20 -> 120 users. The published figures use one hour
(6 x 10 min); the smoke sizes use SMOKE_SECONDS (6 x 20 s), under a plan name of their own so
the two never mix in one database.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import common
import numpy as np

SECONDS = 3600
SMOKE_SECONDS = 120
STEPS = 6


def bucket_keys(us: np.ndarray) -> np.ndarray:
    """runs.core.histogram.bucket_key, vectorised (exact: bit lengths from integer shifts)."""
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
        out.append(
            {
                "hist": {
                    "k": k.tolist(),
                    "c": c.tolist(),
                    "min": int(v[0]),
                    "max": int(v[-1]),
                    "sum": int(v.sum()),
                },
                "n": int(n),
                "p50": pct[50],
                "p95": pct[95],
                "p99": pct[99],
                "max": float(v[-1]) / 1000.0,
                "mean": float(v.mean()) / 1000.0,
            }
        )
    return out


def users_at(t: np.ndarray, seconds: int = SECONDS) -> np.ndarray:
    return 20 + 20 * (t // (seconds // STEPS))


def plan_name(endpoints: int, seconds: int = SECONDS) -> str:
    """The plan name pages.py and exports.py find their seeded runs by (one per size)."""
    return f"bench {endpoints} endpoints" + ("" if seconds == SECONDS else f", {seconds} s")


def simulate(endpoints: int, seed: int, seconds: int = SECONDS) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per endpoint (second of each request, latency µs): 10-60 req/s at the top step, growing
    with the users, a log-normal latency whose median grows with the users."""
    rng = np.random.default_rng(seed)
    t_all = np.arange(seconds)
    users = users_at(t_all, seconds)
    per_ep = []
    for _ in range(endpoints):
        rate = rng.uniform(10, 60) * users / 120  # req/s grows with the users
        n = rng.poisson(rate)
        sec = np.repeat(t_all, n)
        median_ms = rng.uniform(5, 150) * (1 + (users_at(sec, seconds) / 120) ** 3)
        us = (rng.lognormal(np.log(median_ms * 1000), 0.6)).astype(np.int64) + 200
        per_ep.append((sec, us))
    return per_ep


def seed_run(*, endpoints: int, seed: int, seconds: int = SECONDS) -> int:
    return store_run(
        per_ep=simulate(endpoints, seed, seconds),
        plan_name=plan_name(endpoints, seconds),
        generator_host="bench",
        seconds=seconds,
    )


def seeded_runs(*, endpoints: int, count: int, seconds: int = SECONDS) -> list[int]:
    """Ids of ``count`` finished seeded runs of this size, seeding the missing ones."""
    from runs.models import Run

    have = list(
        Run.objects.filter(plan_name=plan_name(endpoints, seconds), status="finished")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    while len(have) < count:
        t0 = time.monotonic()
        pk = seed_run(endpoints=endpoints, seed=endpoints * 1000 + len(have), seconds=seconds)
        print(
            f"seeded run {pk} ({endpoints} endpoints, {seconds} s) in {time.monotonic() - t0:.1f} s",
            flush=True,
        )
        have.append(pk)
    return have[:count]


def store_run(
    *,
    per_ep: list[tuple[np.ndarray, np.ndarray]],
    plan_name: str,
    generator_host: str,
    seconds: int = SECONDS,
) -> int:
    """Write a finished run from per-endpoint (second, latency µs) samples; returns its id.

    One transaction: a seeding stopped half-way leaves no "finished" run with half its rows
    for the next invocation to measure."""
    from django.db import transaction

    with transaction.atomic():
        return _store_run(per_ep=per_ep, plan_name=plan_name, generator_host=generator_host, seconds=seconds)


def _store_run(
    *, per_ep: list[tuple[np.ndarray, np.ndarray]], plan_name: str, generator_host: str, seconds: int
) -> int:
    from django.utils import timezone

    from runs.core.histogram import Histogram
    from runs.models import EndpointSecond, EndpointSummary, Run, RunSecond

    endpoints = len(per_ep)
    users = users_at(np.arange(seconds), seconds)
    snapshot = common.make_snapshot(
        "http://127.0.0.1:9/",
        [{"path": f"/api/e{e:03d}"} for e in range(endpoints)],
        users=120,
        duration=seconds,
    )
    snapshot["profile"].update(
        kind="staircase",
        params={"start_users": 20, "step_users": 20, "step_duration": seconds // STEPS, "steps": STEPS},
        peak_users=120,
    )
    start = timezone.now() - dt.timedelta(hours=2)
    run = Run.objects.create(
        team=common.bench_team(),
        plan=None,
        plan_name=plan_name,
        snapshot=snapshot,
        planned_seconds=seconds,
        status=Run.Status.FINISHED,
        started_at=start,
        finished_at=start + dt.timedelta(seconds=seconds),
        heartbeat_at=start,
        generator_host=generator_host,
        locust_version="2.47.0",
        last_t=seconds - 1,
    )
    overall = second_histograms(
        np.concatenate([s for s, _ in per_ep]), np.concatenate([u for _, u in per_ep]), seconds
    )
    # As ingestion stores them: a second of exactly one endpoint keeps its histogram in that
    # endpoint's row only.
    endpoints_at = np.zeros(seconds, dtype=np.int64)
    for sec, _ in per_ep:
        endpoints_at[np.unique(sec)] += 1
    rows = []
    total_req = 0
    for t, h in enumerate(overall):
        rows.append(
            RunSecond(
                run=run,
                t=t,
                users=int(users[t]),
                requests=h["n"] if h else 0,
                failures=0,
                bytes=(h["n"] if h else 0) * 800,
                cpu_percent=35.0 + users[t] / 4,
                p50_ms=h["p50"] if h else None,
                p95_ms=h["p95"] if h else None,
                p99_ms=h["p99"] if h else None,
                max_ms=h["max"] if h else None,
                mean_ms=h["mean"] if h else None,
                histogram=h["hist"] if h and endpoints_at[t] > 1 else {},
            )
        )
        total_req += h["n"] if h else 0
    RunSecond.objects.bulk_create(rows, batch_size=2000)
    summaries = []
    run_hist = Histogram()
    for e, (sec, us) in enumerate(per_ep):
        name = f"/api/e{e:03d}"
        eps = []
        total = Histogram()
        for t, h in enumerate(second_histograms(sec, us, seconds)):
            if h is None:
                continue
            eps.append(
                EndpointSecond(
                    run=run,
                    t=t,
                    method="GET",
                    name=name,
                    requests=h["n"],
                    failures=0,
                    bytes=h["n"] * 800,
                    p50_ms=h["p50"],
                    p95_ms=h["p95"],
                    p99_ms=h["p99"],
                    max_ms=h["max"],
                    histogram=h["hist"],
                )
            )
            total.merge(Histogram.from_dict(h["hist"]))
        EndpointSecond.objects.bulk_create(eps, batch_size=2000)
        run_hist.merge(total)
        ps = total.percentiles_ms((50, 90, 95, 99))
        summaries.append(
            EndpointSummary(
                run=run,
                method="GET",
                name=name,
                requests=total.total,
                failures=0,
                bytes=total.total * 800,
                rps=total.total / seconds,
                histogram=total.to_dict(),
                p50_ms=ps[50],
                p90_ms=ps[90],
                p95_ms=ps[95],
                p99_ms=ps[99],
                max_ms=total.max_ms,
                mean_ms=total.mean_ms,
            )
        )
    EndpointSummary.objects.bulk_create(summaries)
    ps = run_hist.percentiles_ms((50, 95, 99))
    Run.objects.filter(pk=run.pk).update(
        total_requests=total_req,
        total_bytes=total_req * 800,
        p50_ms=ps[50],
        p95_ms=ps[95],
        p99_ms=ps[99],
        max_ms=run_hist.max_ms,
    )
    return run.pk
