"""Benchmark 4a for real runs: stored bytes per run-hour per endpoint (pg_column_size sums of a
run's rows in RunSecond, EndpointSecond and EndpointSummary, scaled to one hour).

It reads runs already in the ``scaletest_bench`` database (made by bench/overhead.py,
bench/fidelity.py or bench/pages.py); the newest finished runs by default. Index space is not
in a row's pg_column_size: bench/pages.py reports pg_total_relation_size deltas (heap, TOAST
and indexes) for the seeded runs.

    .venv/bin/python bench/storage.py [--runs 5]
    .venv/bin/python bench/storage.py --seeded    # one-hour seeded runs at 1 and 20 endpoints
    .venv/bin/python bench/storage.py --smoke     # seeds a 2-minute run if needed, reports 2 runs

``--seeded`` writes (if missing) one one-hour seeded run at 1 endpoint and one at 20 (the
realistic runs of bench/pages.py, rows as ingestion stores them) and reports those two.

PostgreSQL only: the figures are PostgreSQL's own sizes (pg_column_size, pg_total_relation_size).
bench/pages.py --db sqlite reports what the seeded runs take in a SQLite file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
from simulated import SMOKE_SECONDS, seeded_runs  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=8, help="the newest N finished runs")
    ap.add_argument("--seeded", action="store_true", help="seeded one-hour runs at 1 and 20 endpoints")
    common.add_size_arguments(
        ap, smoke="a seeded 2-minute 2-endpoint run (seeded if missing) and the newest 2 runs"
    )
    common.add_db_argument(
        ap, choices=("postgres",), why="the figures are pg_column_size and pg_total_relation_size"
    )
    args = ap.parse_args()
    common.django_setup(db=args.db)
    if args.smoke:
        seeded_runs(endpoints=2, count=1, seconds=SMOKE_SECONDS)
        args.runs = 2
    ids = seeded_runs(endpoints=1, count=1) + seeded_runs(endpoints=20, count=1) if args.seeded else None
    from django.db import connection

    from runs.models import Run

    with connection.cursor() as c:
        print("| table | rows | pg_total_relation_size (heap + TOAST + indexes) | per row |")
        print("|---|---|---|---|")
        for table in ("runs_runsecond", "runs_endpointsecond", "runs_endpointsummary"):
            c.execute(f"SELECT count(*), pg_total_relation_size('{table}') FROM {table}")
            rows, size = c.fetchone()
            print(f"| {table} | {rows:,} | {size:,} | {size / max(rows, 1):,.0f} B |")
        print()
    runs = (
        Run.objects.filter(pk__in=ids).order_by("pk")
        if ids
        else Run.objects.filter(status="finished", last_t__gte=5).order_by("-pk")[: args.runs]
    )
    print(
        "| run | kind | endpoints | seconds | req/s | bytes per run-hour per endpoint | of which histograms |"
    )
    print("|---|---|---|---|---|---|---|")
    with connection.cursor() as c:
        for run in runs:
            total = hist = per_run = 0
            for table in ("runs_runsecond", "runs_endpointsecond", "runs_endpointsummary"):
                c.execute(
                    "SELECT coalesce(sum(pg_column_size(x.*)), 0), "
                    "coalesce(sum(pg_column_size(x.histogram)), 0) "
                    f"FROM {table} x WHERE run_id = %s",
                    [run.pk],
                )
                a, b = c.fetchone()
                if table == "runs_endpointsummary":
                    per_run = a  # once per run, whatever its length
                total, hist = total + a, hist + b
            c.execute(
                "SELECT count(DISTINCT (method, name)) FROM runs_endpointsummary WHERE run_id = %s", [run.pk]
            )
            endpoints = c.fetchone()[0] or 1
            seconds = run.last_t + 1
            # Per-second rows scale with the length; the summary rows are written once per run.
            per = ((total - per_run) * 3600 / seconds + per_run) / endpoints
            print(
                f"| {run.pk} | {run.plan_name} | {endpoints} | {seconds} | "
                f"{run.total_requests / seconds:.0f} | "
                f"{per:,.0f} B ({per / 1e6:.2f} MB) | {100 * hist / total:.0f}% |"
            )


if __name__ == "__main__":
    main()
