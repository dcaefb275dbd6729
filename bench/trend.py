"""Benchmark: a plan's trend page and API with hundreds of runs.

Seeds one plan of the benchmark team with N finished runs (summary columns set) and, for each,
a stored capacity analysis of the size a one-hour, 20-endpoint staircase run stores (about
150 KB of JSON: steps, knee, per-endpoint block series), then measures the server time of the
trend page (``runs-plan-trend``) and of its API (``GET /api/v1/plans/<id>/trend``): Django test
client, median of --repeat requests after one warm-up request. The baseline's analysis holds
stored verdicts for every run, as after comparing each with it.

    .venv/bin/python bench/trend.py             # 500 runs, 7 repeats
    .venv/bin/python bench/trend.py --quick     # 100 runs, 5 repeats
    .venv/bin/python bench/trend.py --smoke     # 10 runs, 1 repeat (the test suite's size)
    .venv/bin/python bench/trend.py --db sqlite
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

ENDPOINTS = 20
BLOCKS = 720  # one hour of 5-second blocks


def analysis_data(i: int) -> dict[str, Any]:
    steps = [
        {"users": 20 * (k + 1), "throughput_rps": 100.0 * (k + 1), "mean_ms": 20.0 + k, "p95_ms": 40.0 + k}
        for k in range(6)
    ]
    return {
        "steps": steps,
        "knee": {
            "status": "knee",
            "knee_users": 80.0 + i % 7,
            "max_throughput_rps": 600.0 - i % 11,
            "headline": "Tops out at 600 req/s; beyond ~80 users extra users only add latency.",
        },
        "blocks": {
            "seconds": 5,
            "users": [20 * (1 + k // 120) for k in range(BLOCKS)],
            "overall": [round(30.0 + (k % 17) * 0.37, 4) for k in range(BLOCKS)],
            "endpoints": {
                f"GET /api/item/{e}": [round(30.0 + ((k + e) % 13) * 0.41, 4) for k in range(BLOCKS)]
                for e in range(ENDPOINTS)
            },
        },
    }


def seed(n: int) -> tuple[int, int]:
    """A plan with ``n`` analysed runs; returns (plan id, baseline run id)."""
    from django.utils import timezone

    from runs.models import LoadProfile, Run, RunAnalysis, Scenario, Target, TestPlan
    from runs.services.analysis import ANALYSIS_VERSION, OVERALL, _store

    team = common.bench_team()
    name = f"Trend bench {n}"
    plan = TestPlan.objects.filter(team=team, name=name).first()
    if plan and plan.baseline_run_id is not None and Run.objects.filter(plan=plan).count() == n:
        return plan.pk, plan.baseline_run_id
    target = Target.objects.create(team=team, name=name, base_url="http://127.0.0.1:9")
    scenario = Scenario.objects.create(team=team, name=name)
    profile = LoadProfile.objects.create(
        team=team, name=name, kind="constant", params={"users": 1, "duration": 1}
    )
    plan = TestPlan.objects.create(team=team, name=name, target=target, scenario=scenario, profile=profile)
    start = timezone.now() - dt.timedelta(days=n)
    runs = Run.objects.bulk_create(
        Run(
            team=team,
            plan=plan,
            plan_name=name,
            snapshot={},
            status=Run.Status.FINISHED,
            version=f"v{i // 10}.{i % 10}",
            started_at=start + dt.timedelta(days=i),
            finished_at=start + dt.timedelta(days=i, hours=1),
            last_t=3599,
            total_requests=2_000_000 + i,
            total_failures=i,
            p50_ms=20.0,
            p95_ms=40.0 + i % 5,
            p99_ms=60.0,
            passed=i % 9 != 0,
        )
        for i in range(n)
    )
    for k in range(0, n, 50):
        _store({r.pk: analysis_data(i) for i, r in enumerate(runs[k : k + 50], start=k)})
    baseline = runs[0]
    verdict_row = [OVERALL, "no significant change"] + [None] * 13
    RunAnalysis.objects.filter(run=baseline).update(
        data={
            **analysis_data(0),
            "verdicts": {
                "key": [ANALYSIS_VERSION, 2],
                "runs": {str(r.pk): [verdict_row] for r in runs[1:]},
            },
        }
    )
    plan.baseline_run = baseline
    plan.save(update_fields=["baseline_run"])
    return plan.pk, baseline.pk


def timed(client: Any, path: str, repeat: int, **headers: str) -> tuple[float, int]:
    client.get(path, headers=headers)  # warm-up
    times = []
    size = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        response = client.get(path, headers=headers)
        times.append((time.perf_counter() - t0) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"GET {path} answered {response.status_code}")
        size = len(response.content)
    return statistics.median(times), size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_size_arguments(ap, smoke="10 runs, 1 repeat", quick="100 runs, 5 repeats")
    common.add_db_argument(ap)
    args = ap.parse_args()
    n, repeat = (10, 1) if args.smoke else (100, 5) if args.quick else (500, 7)
    common.django_setup(db=args.db)
    common.print_machine()
    from django.urls import reverse

    from runs.services.api_tokens import api_token_create

    t0 = time.perf_counter()
    plan_id, _ = seed(n)
    print(f"seeded {n} runs in {time.perf_counter() - t0:.1f} s ({common.db_vendor()})", flush=True)
    client = common.bench_client()
    page_ms, page_bytes = timed(client, reverse("runs-plan-trend", args=[plan_id]), repeat)
    _, token = api_token_create(user=common.bench_user(), name="trend bench")
    api_ms, api_bytes = timed(
        client, f"/api/v1/plans/{plan_id}/trend", repeat, Authorization=f"Bearer {token}"
    )
    print(f"\n| what | runs | server time (median of {repeat}) | bytes |")
    print("|---|---|---|---|")
    print(f"| trend page | {n} | {page_ms:.0f} ms | {page_bytes:,} |")
    print(f"| trend API | {n} | {api_ms:.0f} ms | {api_bytes:,} |")


if __name__ == "__main__":
    main()
