"""Export sizes and times: CSV, JSON (with and without histograms) and the HTML report of a
simulated one-hour run (bench/simulated.py, the same runs as bench/pages.py).

Seeds one finished 1-hour run with --endpoints endpoints (default 20) in its own database
(BENCH_DB, default ``scaletest_bench_exports``), stores its analysis, then downloads each export
through the Django test client (login, URL routing, the view, the whole streamed body):
median wall time of --repeat downloads after a warm-up, bytes, gzip -6 bytes (of the warm-up), and the peak
Python memory of one download (tracemalloc, separate pass: it slows the code down).

    BENCH_DB=scaletest_bench_exports .venv/bin/python bench/exports.py
    .venv/bin/python bench/exports.py --endpoints 100 --repeat 3
    .venv/bin/python bench/exports.py --drop        # drop the database afterwards
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


def download(client, url: str, *, compress: bool = False) -> tuple[int, int]:
    """Bytes and gzip -6 bytes of the response, consumed chunk by chunk as a server would send
    it (the body is never held whole, so the memory figure is the view's, not ours)."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
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
    ap.add_argument("--drop", action="store_true", help="drop the benchmark database at the end")
    args = ap.parse_args()
    common.django_setup()
    common.print_machine()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from pages import seed_run
    from runs.models import EndpointSecond, Run
    from runs.services.analysis import run_analyse

    name = f"bench {args.endpoints} endpoints"
    run = Run.objects.filter(plan_name=name, status="finished").order_by("pk").first()
    if run is None:
        t0 = time.monotonic()
        pk = seed_run(endpoints=args.endpoints, seed=args.endpoints * 1000)
        run_analyse(run_id=pk)
        run = Run.objects.get(pk=pk)
        print(f"seeded run {pk} in {time.monotonic() - t0:.1f} s", flush=True)
    rows = EndpointSecond.objects.filter(run=run).count()
    print(f"run {run.pk}: {run.last_t + 1} s, {args.endpoints} endpoints, {rows:,} endpoint-second rows, "
          f"{run.total_requests:,} requests")

    user, _ = get_user_model().objects.get_or_create(username="bench")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
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

    print(f"\n1-hour run, {args.endpoints} endpoints; median of {args.repeat} downloads after a warm-up")
    print("| export | time (s) | bytes | gzip -6 bytes | peak Python memory of one download |")
    print("|---|---|---|---|---|")
    for label, secs, size, gz, peak in results:
        print(f"| {label} | {secs:.2f} | {size / 1e6:.1f} MB | {gz / 1e6:.2f} MB | {peak / 1e6:.0f} MB |")
    if args.drop:
        import psycopg
        from django.db import connections

        connections.close_all()
        with psycopg.connect(f"{common.PG}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{os.environ["BENCH_DB"]}"')


if __name__ == "__main__":
    main()
