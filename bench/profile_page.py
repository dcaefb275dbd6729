"""Profile one page of the benchmark database with pyinstrument (server side, test client, as the
benchmark team's admin): where a page's server time goes, for the notes in docs/benchmarks.md.

Without a path it profiles the run page of the seeded 1-hour 20-endpoint run (bench/pages.py's
run; seeded if missing), or of a 2-minute one with --smoke.

    .venv/bin/python bench/profile_page.py                    # the seeded 20-endpoint run's page
    .venv/bin/python bench/profile_page.py /runs/50/          # or "/runs/compare/?ids=..."
    .venv/bin/python bench/profile_page.py --smoke            # a 2-minute run (the test suite's size)
    .venv/bin/python bench/profile_page.py --db sqlite
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
from simulated import SECONDS, SMOKE_SECONDS, seeded_runs  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", nargs="?", help="page to profile (default: the seeded 20-endpoint run's page)")
    common.add_size_arguments(ap, smoke="the run page of a seeded 2-minute 20-endpoint run")
    common.add_db_argument(ap)
    ap.add_argument("--top", type=int, default=40, help="lines of the call tree summary table")
    args = ap.parse_args()
    common.django_setup(db=args.db)
    from django.urls import reverse
    from pyinstrument import Profiler

    client = common.bench_client()
    path = args.path
    if path is None:
        run_id = seeded_runs(endpoints=20, count=1, seconds=SMOKE_SECONDS if args.smoke else SECONDS)[0]
        path = reverse("runs-detail", args=[run_id])
    common.get_ok(client, path)  # warm-up (and the analysis stored on a run's first view)
    profiler = Profiler(interval=0.001)
    profiler.start()
    common.get_ok(client, path)
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False, short_mode=False))
    # The slowest frames by own time, as a table (what the notes quote next to the tree).
    session = profiler.last_session
    assert session is not None
    own: dict[str, float] = {}

    def walk(frame) -> None:  # type: ignore[no-untyped-def]
        if frame.is_synthetic:  # "[self]" frames: already in their parent's total_self_time
            return
        key = f"{frame.function} ({Path(frame.file_path or '?').name}:{frame.line_no})"
        own[key] = own.get(key, 0.0) + frame.total_self_time
        for child in frame.children:
            walk(child)

    root = session.root_frame()
    if root is not None:
        walk(root)
    total = session.duration
    print(f"\n{args.db}: {path}, {total * 1000:.0f} ms profiled; frames by own time")
    print("| frame | own time (ms) | share |")
    print("|---|---|---|")
    for key, secs in sorted(own.items(), key=lambda x: -x[1])[: args.top]:
        print(f"| {key} | {secs * 1000:.1f} | {100 * secs / total:.1f}% |")


if __name__ == "__main__":
    main()
