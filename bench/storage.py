"""Benchmark 4a for real runs: stored bytes per run-hour per endpoint (pg_column_size sums of a
run's rows in RunSecond, EndpointSecond and EndpointSummary, scaled to one hour).

It reads runs already in the ``scaletest_bench`` database (made by bench/overhead.py,
bench/fidelity.py or bench/pages.py); the newest finished runs by default. Index space is not
in a row's pg_column_size: bench/pages.py reports pg_total_relation_size deltas (heap, TOAST
and indexes) for the seeded runs.

    .venv/bin/python bench/storage.py [--runs 5]
    .venv/bin/python bench/storage.py --seeded    # one-hour seeded runs at 1 and 20 endpoints
    .venv/bin/python bench/storage.py --smoke     # seeds a 2-minute run if needed, reports 2 runs
    BENCH_DB=scaletest_bench_rollup .venv/bin/python bench/storage.py --rollup
                                                  # before/after the 10 s retention roll-up
    .venv/bin/python bench/storage.py --pack      # before/after packing into blocks

``--rollup`` seeds fresh one-hour runs at 1 and 20 endpoints (seeds 1000 and 20000, as
``--seeded``; under plan names of their own), measures their bytes per run-hour per endpoint,
rolls each up to 10 s with ``runs.services.retention.run_rollup`` (timed; the run's analysis is
stored first, outside the timing), measures again, checks that totals and whole-run
percentiles did not move, and deletes the two runs. Use a database of its own (``BENCH_DB``):
the roll-up needs this branch's migration.

``--pack`` does the same with packing (``runs.services.packing.run_pack``, timed): bytes as
ingestion stores the rows and packed, with whole-run figures and the analysis rebuilt from the
blocks checked identical; then the time to unpack (what a roll-up of a packed run starts with).

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
from simulated import SECONDS, SMOKE_SECONDS, seeded_runs, simulate, store_run  # noqa: E402

TABLES = ("runs_runsecond", "runs_endpointsecond", "runs_packedseconds", "runs_endpointsummary")
# The histogram bytes of each table's rows (a packed block's are compressed together).
HISTOGRAM_COLUMN = {"runs_packedseconds": "histograms"}


def run_bytes(cursor: object, run: object) -> tuple[float, float, int, int]:
    """(bytes per run-hour per endpoint, share in histograms, endpoints, seconds) of ``run``."""
    c = cursor
    total = hist = per_run = 0
    for table in TABLES:
        c.execute(  # type: ignore[attr-defined]
            "SELECT coalesce(sum(pg_column_size(x.*)), 0), "
            f"coalesce(sum(pg_column_size(x.{HISTOGRAM_COLUMN.get(table, 'histogram')})), 0) "
            f"FROM {table} x WHERE run_id = %s",
            [run.pk],  # type: ignore[attr-defined]
        )
        a, b = c.fetchone()  # type: ignore[attr-defined]
        if table == "runs_endpointsummary":
            per_run = a  # once per run, whatever its length
        total, hist = total + a, hist + b
    c.execute(  # type: ignore[attr-defined]
        "SELECT count(DISTINCT (method, name)) FROM runs_endpointsummary WHERE run_id = %s",
        [run.pk],  # type: ignore[attr-defined]
    )
    endpoints = c.fetchone()[0] or 1  # type: ignore[attr-defined]
    seconds = run.last_t + 1  # type: ignore[attr-defined]
    # Per-second rows scale with the length; the summary rows are written once per run.
    per = ((total - per_run) * 3600 / seconds + per_run) / endpoints
    return per, hist / max(total, 1), endpoints, seconds


def whole_run(pk: int) -> tuple[object, ...]:
    """Totals, whole-run percentiles and endpoint summaries: what the roll-up must not move."""
    from runs.models import EndpointSummary, Run

    return (
        Run.objects.filter(pk=pk).values_list("total_requests", "p50_ms", "p95_ms", "p99_ms").get(),
        list(
            EndpointSummary.objects.filter(run_id=pk)
            .order_by("name")
            .values_list("requests", "p95_ms", "histogram")
        ),
    )


def rollup_report() -> None:
    """Seeded one-hour runs at 1 and 20 endpoints, before and after the 10 s roll-up."""
    import time

    from django.db import connection

    from runs.models import EndpointSecond, Run, RunSecond
    from runs.services.analysis import run_analyses_ensure
    from runs.services.retention import run_rollup

    print(
        "| run | endpoints | rows before → after (RunSecond, EndpointSecond) | bytes per run-hour per "
        "endpoint before | after | ratio | time to roll up the run-hour |"
    )
    print("|---|---|---|---|---|---|---|")
    for endpoints in (20, 1):
        t0 = time.monotonic()
        pk = store_run(
            per_ep=simulate(endpoints, endpoints * 1000),
            plan_name=f"bench {endpoints} endpoints (roll-up)",
            generator_host="bench",
            seconds=SECONDS,
        )
        print(f"<!-- seeded run {pk} in {time.monotonic() - t0:.1f} s -->", flush=True)
        run = Run.objects.get(pk=pk)
        run_analyses_ensure(ids=[pk], runs={pk: run})
        before_whole = whole_run(pk)
        rows_before = (
            RunSecond.objects.filter(run_id=pk).count(),
            EndpointSecond.objects.filter(run_id=pk).count(),
        )
        with connection.cursor() as c:
            before, before_hist, n, seconds = run_bytes(c, run)
        t0 = time.monotonic()
        result = run_rollup(run=run)
        took = time.monotonic() - t0
        assert result.rolled and whole_run(pk) == before_whole, "the roll-up changed whole-run figures"
        rows_after = (
            RunSecond.objects.filter(run_id=pk).count(),
            EndpointSecond.objects.filter(run_id=pk).count(),
        )
        with connection.cursor() as c:
            after, after_hist, _, _ = run_bytes(c, run)
        print(
            f"| seeded, {run.total_requests / seconds:.0f} req/s | {n} | "
            f"{rows_before[0]:,}, {rows_before[1]:,} → {rows_after[0]:,}, {rows_after[1]:,} | "
            f"{before:,.0f} B = **{before / 1e6:.2f} MB** ({100 * before_hist:.0f}% histograms) | "
            f"{after:,.0f} B = **{after / 1e6:.3f} MB** ({100 * after_hist:.0f}%) | {after / before:.3f} | "
            f"{took * 3600 / seconds:.1f} s |",
            flush=True,
        )
        Run.objects.filter(pk=pk).delete()


def pack_report() -> None:
    """Seeded one-hour runs at 1 and 20 endpoints, as ingestion stores them and packed."""
    import json
    import time

    from django.db import connection

    from runs.models import PackedSeconds, Run
    from runs.services.analysis import run_analysis_build
    from runs.services.packing import run_pack, run_unpack

    print(
        "| run | endpoints | rows → blocks | bytes per run-hour per endpoint, rows | packed | ratio "
        "| time to pack the run-hour | to unpack |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for endpoints in (20, 1):
        t0 = time.monotonic()
        pk = store_run(
            per_ep=simulate(endpoints, endpoints * 1000),
            plan_name=f"bench {endpoints} endpoints (packing)",
            generator_host="bench",
            seconds=SECONDS,
        )
        print(f"<!-- seeded run {pk} in {time.monotonic() - t0:.1f} s -->", flush=True)
        run = Run.objects.get(pk=pk)
        analysis = json.dumps(run_analysis_build(run=run), sort_keys=True)
        before_whole = whole_run(pk)
        with connection.cursor() as c:
            before, before_hist, n, seconds = run_bytes(c, run)
        t0 = time.monotonic()
        result = run_pack(run_id=pk)
        took = time.monotonic() - t0
        run.refresh_from_db()
        assert result.packed and whole_run(pk) == before_whole, "packing changed whole-run figures"
        assert json.dumps(run_analysis_build(run=run), sort_keys=True) == analysis, "analysis differs"
        blocks = PackedSeconds.objects.filter(run_id=pk).count()
        with connection.cursor() as c:
            after, after_hist, _, _ = run_bytes(c, run)
        t0 = time.monotonic()
        run_unpack(run_id=pk)
        unpack_took = time.monotonic() - t0
        print(
            f"| seeded, {run.total_requests / seconds:.0f} req/s | {n} | {result.rows:,} → {blocks} | "
            f"{before:,.0f} B = **{before / 1e6:.2f} MB** ({100 * before_hist:.0f}% histograms) | "
            f"{after:,.0f} B = **{after / 1e6:.2f} MB** ({100 * after_hist:.0f}%) | {after / before:.3f} | "
            f"{took * 3600 / seconds:.1f} s | {unpack_took * 3600 / seconds:.1f} s |",
            flush=True,
        )
        Run.objects.filter(pk=pk).delete()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=8, help="the newest N finished runs")
    ap.add_argument("--seeded", action="store_true", help="seeded one-hour runs at 1 and 20 endpoints")
    ap.add_argument(
        "--rollup",
        action="store_true",
        help="bytes and time of the 10 s retention roll-up (seeds its own runs)",
    )
    ap.add_argument(
        "--pack",
        action="store_true",
        help="bytes and time of packing ended runs into blocks (seeds its own runs)",
    )
    common.add_size_arguments(
        ap, smoke="a seeded 2-minute 2-endpoint run (seeded if missing) and the newest 2 runs"
    )
    common.add_db_argument(
        ap, choices=("postgres",), why="the figures are pg_column_size and pg_total_relation_size"
    )
    args = ap.parse_args()
    common.django_setup(db=args.db)
    if args.rollup:
        rollup_report()
        return
    if args.pack:
        pack_report()
        return
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
            per, hist_share, endpoints, seconds = run_bytes(c, run)
            print(
                f"| {run.pk} | {run.plan_name} | {endpoints} | {seconds} | "
                f"{run.total_requests / seconds:.0f} | "
                f"{per:,.0f} B ({per / 1e6:.2f} MB) | {100 * hist_share:.0f}% |"
            )


if __name__ == "__main__":
    main()
