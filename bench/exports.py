"""Export sizes and times: CSV, JSON (with and without histograms) and the HTML report of a
simulated one-hour run (bench/simulated.py, the same runs as bench/pages.py).

Seeds one finished 1-hour run with --endpoints endpoints (default 20) in its own database
(BENCH_DB, default ``scaletest_bench_exports``; ``--db sqlite`` for the embedded default's
SQLite file), stores its analysis, then downloads each export through the Django test client
as the benchmark team's admin (login, URL routing, the view, the whole streamed body):
median wall time of --repeat downloads after a warm-up, bytes, gzip -6 bytes (of the warm-up), and the peak
Python memory of one download (tracemalloc, separate pass: it slows the code down).

    BENCH_DB=scaletest_bench_exports .venv/bin/python bench/exports.py
    .venv/bin/python bench/exports.py --endpoints 100 --repeat 3
    .venv/bin/python bench/exports.py --drop        # drop the database afterwards
    .venv/bin/python bench/exports.py --smoke       # a 2-minute 2-endpoint run, 1 repeat
                                                    # (the test suite's size)
    .venv/bin/python bench/exports.py --db sqlite
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("BENCH_DB", "scaletest_bench_exports")

import common  # noqa: E402
from simulated import SECONDS, SMOKE_SECONDS, seeded_runs  # noqa: E402


def download(client, url: str, *, compress: bool = False) -> tuple[int, int]:
    """Bytes and gzip -6 bytes of the response, consumed chunk by chunk as a server would send
    it (the body is never held whole, so the memory figure is the view's, not ours)."""
    response = common.get_ok(client, url)
    chunks = response.streaming_content if response.streaming else [response.content]
    size = packed = 0
    z = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip framing
    for chunk in chunks:
        size += len(chunk)
        if compress:
            packed += len(z.compress(chunk))
    return size, packed + (len(z.flush()) if compress else 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoints", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    common.add_size_arguments(ap, smoke="a 2-minute run with 2 endpoints, 1 repeat")
    common.add_db_argument(ap)
    ap.add_argument("--drop", action="store_true", help="drop the benchmark database at the end")
    args = ap.parse_args()
    seconds = SECONDS
    if args.smoke:
        args.endpoints, args.repeat, seconds = 2, 1, SMOKE_SECONDS
    common.django_setup(db=args.db)
    common.print_machine()
    print(f"database: {args.db} ({common.database_url(args.db)})")
    from django.urls import reverse

    from runs.models import EndpointSecond, Run
    from runs.services.analysis import run_analyses_ensure

    run = Run.objects.get(pk=seeded_runs(endpoints=args.endpoints, count=1, seconds=seconds)[0])
    run_analyses_ensure(ids=[run.pk])  # stored as a finished run would have it (missing or stale only)
    rows = EndpointSecond.objects.filter(run=run).count()
    print(
        f"run {run.pk}: {run.last_t + 1} s, {args.endpoints} endpoints, {rows:,} endpoint-second rows, "
        f"{run.total_requests:,} requests"
    )

    client = common.bench_client()
    urls = {
        "CSV": reverse("runs-export-csv", args=[run.pk]),
        "JSON": reverse("runs-export-json", args=[run.pk]),
        "JSON ?histograms=1": reverse("runs-export-json", args=[run.pk]) + "?histograms=1",
        "HTML report": reverse("runs-report", args=[run.pk]),
        "(run page, for scale)": reverse("runs-detail", args=[run.pk]),
    }
    results = []
    for label, url in urls.items():
        size, packed = download(client, url, compress=True)  # warm-up (and the report's assets read once)
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            download(client, url)
            times.append(time.perf_counter() - t0)
        tracemalloc.start()
        download(client, url)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        results.append((label, statistics.median(times), size, packed, peak))
        print(results[-1], flush=True)

    length = "1-hour" if seconds == SECONDS else f"{seconds}-s"
    print(
        f"\n{args.db}, {length} run, {args.endpoints} endpoints"
        f"; median of {args.repeat} downloads after a warm-up"
    )
    print("| export | time (s) | bytes | gzip -6 bytes | peak Python memory of one download |")
    print("|---|---|---|---|---|")
    for label, secs, size, gz, peak in results:
        print(f"| {label} | {secs:.2f} | {size / 1e6:.1f} MB | {gz / 1e6:.2f} MB | {peak / 1e6:.0f} MB |")
    if args.drop:
        common.drop_database(args.db)


if __name__ == "__main__":
    main()
