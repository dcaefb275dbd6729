"""Benchmark 3b: server time of the comparison page of N one-hour runs at 20 endpoints (issue 13:
≤ 300 ms at 20 runs), with its query count, and optionally a pyinstrument profile.

Seeds one realistic one-hour run (bench/simulated.py, 20 endpoints, staircase 20 -> 120 users)
and copies its rows and its stored analysis in SQL into N - 1 more runs (seeding and analysing
each from scratch takes minutes on a busy machine; the page does the same work per run whatever
the values). The first request computes and stores the verdicts; the figure is the median of
--repeat requests after it, as bench/pages.py measures pages.

    .venv/bin/python bench/compare.py [--runs 20] [--repeat 9] [--db postgres|sqlite]
    .venv/bin/python bench/compare.py --profile        # pyinstrument of one warm request
    .venv/bin/python bench/compare.py --smoke          # 2-minute runs, 3 of them, 1 repeat
    .venv/bin/python bench/compare.py --packed 3       # rows and packed runs, 3 rounds each

``--packed R`` measures the same runs as rows and packed into blocks (``runs.services.packing``)
in R alternating rounds (rows, pack every run, packed, unpack every run), so both sides share
the machine's state; the runs are left unpacked.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
from simulated import SECONDS, SMOKE_SECONDS, seeded_runs  # noqa: E402

RESULT_TABLES = ("RunSecond", "EndpointSecond", "EndpointSummary", "RunAnalysis")


def cloned_runs(*, source: int, count: int) -> list[int]:
    """``count`` runs: ``source`` and copies of it (rows copied in SQL), made once."""
    from django.apps import apps
    from django.db import connection, transaction

    from runs.models import Run
    from runs.services.analysis import run_analyses_ensure

    origin = Run.objects.get(pk=source)
    run_analyses_ensure(ids=[source], runs={source: origin})  # copied with the rows (same data)
    have = [
        source,
        *Run.objects.filter(generator_host=f"bench copy of {source}")
        .order_by("pk")
        .values_list("pk", flat=True),
    ]
    while len(have) < count:
        with transaction.atomic():
            copy = Run.objects.get(pk=source)
            copy.pk = None
            copy.generator_host = f"bench copy of {source}"
            copy.save()
            Run.objects.filter(pk=copy.pk).update(created_at=origin.created_at)
            with connection.cursor() as c:
                for name in RESULT_TABLES:
                    model = apps.get_model("runs", name)
                    cols = [f.column for f in model._meta.concrete_fields if f.column not in ("id", "run_id")]
                    col_sql = ", ".join(connection.ops.quote_name(x) for x in cols)
                    table = model._meta.db_table
                    insert = f"INSERT INTO {table} (run_id, {col_sql}) "
                    c.execute(
                        insert + f"SELECT %s, {col_sql} FROM {table} WHERE run_id = %s", [copy.pk, source]
                    )
        have.append(copy.pk)
    return have[:count]


def timed(client: object, path: str, repeat: int) -> tuple[float, float, bytes]:
    """(median wall ms, median CPU ms, the page) of ``repeat`` warm requests."""
    client.get(path)  # type: ignore[attr-defined]
    times, cpu = [], []
    body = b""
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        response = client.get(path)  # type: ignore[attr-defined]
        times.append(1000 * (time.perf_counter() - t0))
        cpu.append(1000 * (time.process_time() - c0))
        assert response.status_code == 200
        body = response.content
    return statistics.median(times), statistics.median(cpu), body


def unmasked(page: bytes) -> bytes:
    """``page`` without its CSRF tokens (masked anew on every response)."""
    import re

    return re.sub(rb'(csrfmiddlewaretoken" value=|csrf-token" content=)"[^"]*"', rb"\1", page)


def packed_rounds(*, client: object, path: str, ids: list[int], rounds: int, repeat: int) -> None:
    """The comparison of ``ids`` as rows and packed, in alternating rounds; same page both ways."""
    from runs.services.packing import run_pack, run_unpack

    print("| round | rows: wall, CPU (median) | packed: wall, CPU (median) | ratio (wall) | same page |")
    print("|---|---|---|---|---|")
    try:
        for k in range(rounds):
            rows_ms, rows_cpu, rows_page = timed(client, path, repeat)
            for pk in ids:
                assert run_pack(run_id=pk).packed
            packed_ms, packed_cpu, packed_page = timed(client, path, repeat)
            for pk in ids:
                run_unpack(run_id=pk)
            same = "yes" if unmasked(rows_page) == unmasked(packed_page) else "NO"
            print(
                f"| {k + 1} | {rows_ms:.0f} ms, {rows_cpu:.0f} ms | {packed_ms:.0f} ms, "
                f"{packed_cpu:.0f} ms | {packed_ms / rows_ms:.2f} | {same} |",
                flush=True,
            )
    finally:
        for pk in ids:
            run_unpack(run_id=pk)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--profile", action="store_true", help="print a pyinstrument profile of one warm request")
    ap.add_argument("--packed", type=int, default=0, metavar="ROUNDS", help="rows vs packed, alternating")
    common.add_size_arguments(ap, smoke="3 two-minute runs at 2 endpoints, 1 repeat")
    common.add_db_argument(ap)
    args = ap.parse_args()
    endpoints, seconds = 20, SECONDS
    if args.smoke:
        endpoints, seconds, args.runs, args.repeat = 2, SMOKE_SECONDS, 3, 1
    common.django_setup(db=args.db)
    from django.core.signals import request_started
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    source = seeded_runs(endpoints=endpoints, count=1, seconds=seconds)[0]
    ids = cloned_runs(source=source, count=args.runs)
    client = common.bench_client()
    path = reverse("runs-compare") + "?ids=" + ",".join(map(str, ids))
    if args.packed:
        packed_rounds(client=client, path=path, ids=ids, rounds=args.packed, repeat=args.repeat)
        return
    t0 = time.perf_counter()
    first = client.get(path)
    assert first.status_code == 200, first.status_code
    first_ms = 1000 * (time.perf_counter() - t0)
    print(f"first request (verdicts computed and stored): {first_ms:.0f} ms")
    times, cpu = [], []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        response = client.get(path)
        times.append(1000 * (time.perf_counter() - t0))
        # This process's CPU (the server's Python, not the database's): steadier than the wall
        # time on a machine shared with other work.
        cpu.append(1000 * (time.process_time() - c0))
        assert response.status_code == 200
    # Django clears the query log when a request starts: counted with that hook off.
    request_started.disconnect(reset_queries)
    with CaptureQueriesContext(connection) as queries:
        size = len(client.get(path).content)
    request_started.connect(reset_queries)
    print("| database | data | server time | server CPU (median) | queries | HTML bytes |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {args.db} | {args.runs} runs × {endpoints} endpoints, {seconds} s | "
        f"median {statistics.median(times):.0f} ms "
        f"(min {min(times):.0f}, max {max(times):.0f}, n={len(times)}) | {statistics.median(cpu):.0f} ms | "
        f"{len(queries)} queries | {size:,} B |"
    )
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
        client.get(path)
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False, timeline=False))


if __name__ == "__main__":
    main()
