"""Where the parent's CPU goes during a real run (py-spy could not attach to the parent here):
thread CPU time (time.thread_time) accumulated around the parent's per-message and per-second
work, during one ScaleTest run of bench/overhead.py's A side.

    .venv/bin/python bench/parent_breakdown.py [--endpoints 20] [--duration 15]
    .venv/bin/python bench/parent_breakdown.py --smoke     # one 5 s run (the test suite's size)
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import overhead  # noqa: E402

SPENT: collections.Counter[str] = collections.Counter()


def timed(name, fn):
    def wrapper(*a, **kw):
        t0 = time.thread_time()
        try:
            return fn(*a, **kw)
        finally:
            SPENT[name] += time.thread_time() - t0

    return wrapper


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoints", type=int, default=20)
    ap.add_argument("--duration", type=int, default=15)
    common.add_size_arguments(ap, smoke="one 5 s run")
    common.add_db_argument(ap, choices=("postgres",), why=common.LOAD_DB_WHY)
    args = ap.parse_args()
    warmup = 3.0
    if args.smoke:
        args.duration, warmup = 5, 0.5
    os.sched_setaffinity(0, {common.LOAD_CORE})
    common.django_setup(db=args.db)
    common.print_machine()
    from runs.core.engine import protocol
    from runs.engine import runner
    from runs.services import results

    runner.protocol.parse_line = timed(
        "channel: parse_line (JSON + validation, reader thread)", protocol.parse_line
    )
    results.batch_aggregate = timed(
        "ingest: batch_aggregate (Histogram.from_dict + merge)", results.batch_aggregate
    )
    for name in ("_store_seconds", "_store_endpoints", "_update_totals"):
        setattr(results, name, timed(f"ingest: {name} (ORM + to_dict + percentiles)", getattr(results, name)))
    runner.results_ingest = timed("ingest: results_ingest total", results.results_ingest)
    runner.run_heartbeat = timed("heartbeat (2 queries/s)", runner.run_heartbeat)
    runner.run_finish = timed("run_finish (summary)", runner.run_finish)
    nginx = common.Nginx()
    try:
        ns = argparse.Namespace(users=20, duration=args.duration, warmup=warmup, endpoints=args.endpoints)
        t0 = time.process_time()
        res = overhead.run_scaletest(nginx, ns)
        total = time.process_time() - t0
    finally:
        nginx.stop()
    print(
        f"\n{args.endpoints} endpoints, {args.duration} s run; parent CPU for the whole run: {total:.3f} s; "
        f"in the steady window parent = {100 * res['cpu_parent'] / res['cpu_child']:.2f}% of the child"
    )
    print("| work | parent CPU (s) | share of parent CPU |")
    print("|---|---|---|")
    for name, s in sorted(SPENT.items(), key=lambda x: -x[1]):
        print(f"| {name} | {s:.3f} | {100 * s / total:.1f}% |")


if __name__ == "__main__":
    main()
