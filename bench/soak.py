"""Benchmark: a long run (soak). Does anything grow with the run's age?

One run of 20 endpoints through the real parent (``runs.engine.runner.run_execute``, in a
process of its own, as a Celery pool process runs it) and its Locust child, against nginx on
127.0.0.1. Every ``--interval`` seconds this records:

* RSS and CPU of the parent and of the child (psutil);
* ingest lag: now minus the end of the newest stored second (``started_at + last_t + 1``);
* the live page's server time: the run page's poll (``live.json?after=<a few seconds ago>``,
  as the browser sends it every second) and its table refresh (``tables/``), median of 3 each,
  through Django's test client (server time only, no network).

Goals (docs/benchmarks.md): memory flat (growth < 5% from the end of the first minute to the
end), ingest lag <= 3 s, live page time independent of the run's age (last third vs first).

    .venv/bin/python bench/soak.py                 # 30 min, 20 endpoints
    .venv/bin/python bench/soak.py --quick         # 5 min
    .venv/bin/python bench/soak.py --smoke         # 25 s (the test suite's size)
    .venv/bin/python bench/soak.py --db sqlite     # the embedded default's database
    .venv/bin/python bench/soak.py --chart docs/soak.svg   # and draw the samples
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import psutil  # noqa: E402

ENDPOINTS = 20


@dataclass
class Sample:
    t: float  # seconds since the run started
    parent_rss_mb: float
    parent_cpu: float  # percent of one core over the interval
    child_rss_mb: float
    child_cpu: float
    lag_s: float
    live_ms: float
    tables_ms: float
    stored_seconds: int
    requests: int


def execute(run_id: int, db: str) -> None:
    """The parent's side, in this process (``--execute``): what a Celery pool process does."""
    common.django_setup(db=db, migrate=False)
    from runs.engine import runner

    status = runner.run_execute(run_id=run_id)
    print(f"run {run_id} ended: {status}", flush=True)


def _timed_get(client: Any, path: str, n: int = 3) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        common.get_ok(client, path)
        times.append((time.perf_counter() - started) * 1000)
    return common.median(times)


def _cpu_percent(proc: psutil.Process, before: dict[int, float], interval: float) -> float:
    try:
        times = proc.cpu_times()
    except psutil.Error:
        return 0.0
    now = times.user + times.system
    last = before.get(proc.pid, now)
    before[proc.pid] = now
    return (now - last) / interval * 100


def _child_of(parent: psutil.Process) -> psutil.Process | None:
    try:
        for p in parent.children(recursive=True):
            if "runs.core.engine.child" in " ".join(p.cmdline()):
                return p
    except psutil.Error:
        pass
    return None


def soak(args: argparse.Namespace) -> list[Sample]:
    from runs.models import Run

    nginx = common.Nginx()
    steps = [
        {"name": f"endpoint {i:02d}", "path": "/index.html", "query": {"e": str(i)}} for i in range(ENDPOINTS)
    ]
    duration = int(args.minutes * 60)
    snapshot = common.make_snapshot(nginx.url, steps, users=args.users, duration=duration)
    snapshot["scenario"]["think_time_min"] = snapshot["scenario"]["think_time_max"] = args.think
    run_id = common.create_running_run(snapshot)
    client = common.bench_client()
    print(
        f"run {run_id}: {duration} s, {ENDPOINTS} endpoints, {args.users} users, think {args.think} s, "
        f"nginx on core {common.TARGET_CORE}, database {common.db_vendor()}",
        flush=True,
    )
    parent_proc = subprocess.Popen(
        [common.PY, __file__, "--execute", str(run_id), "--db", args.db], cwd=common.BASE_DIR
    )
    samples: list[Sample] = []
    cpu_before: dict[int, float] = {}
    try:
        parent = psutil.Process(parent_proc.pid)
        started = time.monotonic()
        next_at = started + args.interval
        print(
            "| t (s) | parent RSS MB | parent CPU % | child RSS MB | child CPU % | lag s | live ms |", end=""
        )
        print(" tables ms |")
        print("|---|---|---|---|---|---|---|---|")
        while parent_proc.poll() is None:
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += args.interval
            if parent_proc.poll() is not None:
                break
            child = _child_of(parent)
            run = Run.objects.get(pk=run_id)
            if run.status != Run.Status.RUNNING or run.last_t < 0 or run.started_at is None or child is None:
                continue
            try:
                parent_rss = parent.memory_info().rss / 2**20
                child_rss = child.memory_info().rss / 2**20
            except psutil.Error:
                continue
            s = Sample(
                t=round(time.monotonic() - started, 1),
                parent_rss_mb=round(parent_rss, 1),
                parent_cpu=round(_cpu_percent(parent, cpu_before, args.interval), 1),
                child_rss_mb=round(child_rss, 1),
                child_cpu=round(_cpu_percent(child, cpu_before, args.interval), 1),
                lag_s=round(time.time() - (run.started_at.timestamp() + run.last_t + 1), 2),
                live_ms=round(
                    _timed_get(client, f"/runs/{run_id}/live.json?after={max(-1, run.last_t - 3)}"), 1
                ),
                tables_ms=round(_timed_get(client, f"/runs/{run_id}/tables/"), 1),
                stored_seconds=run.last_t + 1,
                requests=run.total_requests,
            )
            samples.append(s)
            print(
                f"| {s.t:.0f} | {s.parent_rss_mb:.1f} | {s.parent_cpu:.0f} | {s.child_rss_mb:.1f} | "
                f"{s.child_cpu:.0f} | {s.lag_s:.2f} | {s.live_ms:.1f} | {s.tables_ms:.1f} |",
                flush=True,
            )
        parent_proc.wait(timeout=duration + 120)
    finally:
        if parent_proc.poll() is None:
            parent_proc.kill()
        nginx.stop()
    run = Run.objects.get(pk=run_id)
    if run.status != Run.Status.FINISHED:
        raise SystemExit(f"run {run_id} ended {run.status}: {run.error_message}")
    print(
        f"run {run_id} finished: {run.total_requests:,} requests, {run.total_failures} failures", flush=True
    )
    return samples


def summary(samples: list[Sample]) -> list[tuple[str, str, str]]:
    """(figure, value, goal) rows; memory growth from the first sample after 60 s to the last."""
    if len(samples) < 2:
        raise SystemExit("fewer than 2 samples: run longer or sample more often")
    settled = next((s for s in samples if s.t >= 60), samples[0])
    last = samples[-1]
    third = max(1, len(samples) // 3)
    m = common.median

    def thirds(key: str) -> str:
        first, later = [getattr(s, key) for s in samples[:third]], [getattr(s, key) for s in samples[-third:]]
        return f"{m(first):.1f} -> {m(later):.1f}"

    def growth(a: float, b: float) -> str:
        return f"{(b - a) / a * 100:+.1f}% ({a:.1f} -> {b:.1f} MB)"

    return [
        (
            "parent RSS growth after the first minute",
            growth(settled.parent_rss_mb, last.parent_rss_mb),
            "< 5%",
        ),
        ("child RSS growth after the first minute", growth(settled.child_rss_mb, last.child_rss_mb), "< 5%"),
        ("parent CPU % (median)", f"{m([s.parent_cpu for s in samples]):.0f}", ""),
        ("child CPU % (median)", f"{m([s.child_cpu for s in samples]):.0f}", ""),
        (
            "ingest lag s (median / max)",
            f"{m([s.lag_s for s in samples]):.2f} / {max(s.lag_s for s in samples):.2f}",
            "<= 3 s",
        ),
        (
            "live poll ms (median, first third -> last third)",
            thirds("live_ms"),
            "flat",
        ),
        (
            "tables ms (median, first third -> last third)",
            thirds("tables_ms"),
            "flat",
        ),
        ("requests stored", f"{last.requests:,} in {last.stored_seconds} s", ""),
    ]


def chart_svg(samples: list[Sample], title: str) -> str:
    """Three small panels (memory, ingest lag, live page time) over the run's age, as SVG."""
    width, panel, left, gap = 720, 150, 60, 40
    panels = [
        ("RSS (MB): parent, child", [("parent_rss_mb", "#1f77b4"), ("child_rss_mb", "#ff7f0e")]),
        ("ingest lag (s)", [("lag_s", "#2ca02c")]),
        ("live page server time (ms): poll, tables", [("live_ms", "#9467bd"), ("tables_ms", "#8c564b")]),
    ]
    height = 44 + len(panels) * (panel + gap)
    t_max = max(s.t for s in samples) or 1.0
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        'font-size="11">',
        f'<text x="{left}" y="16" font-size="13">{title}</text>',
    ]
    for i, (label, series) in enumerate(panels):
        top = 44 + i * (panel + gap)
        y_max = max(getattr(s, key) for s in samples for key, _ in series) * 1.1 or 1.0
        plot_w = width - left - 20
        out.append(f'<text x="{left}" y="{top - 4}">{label}</text>')
        out.append(
            f'<rect x="{left}" y="{top}" width="{plot_w}" height="{panel}" fill="none" stroke="#999"/>'
        )
        out.append(f'<text x="{left - 6}" y="{top + 10}" text-anchor="end">{y_max:.1f}</text>')
        out.append(f'<text x="{left - 6}" y="{top + panel}" text-anchor="end">0</text>')
        out.append(
            f'<text x="{left + plot_w}" y="{top + panel + 14}" text-anchor="end">{t_max / 60:.1f} min</text>'
        )
        for key, colour in series:
            points = " ".join(
                f"{left + s.t / t_max * plot_w:.1f},{top + panel - getattr(s, key) / y_max * panel:.1f}"
                for s in samples
            )
            out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--think", type=float, default=0.05, help="think time per user, seconds (paces the load)")
    ap.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    ap.add_argument("--csv", help="write the samples to this CSV file")
    ap.add_argument("--chart", help="draw the samples into this SVG file")
    ap.add_argument("--execute", type=int, help=argparse.SUPPRESS)
    common.add_size_arguments(ap, smoke="25 s, a sample every 4 s", quick="5 min")
    common.add_db_argument(ap)
    args = ap.parse_args()
    if args.execute is not None:
        execute(args.execute, args.db)
        return
    if args.quick:
        args.minutes = 5.0
    if args.smoke:
        args.minutes, args.interval = 25 / 60, 4.0
    common.django_setup(db=args.db)
    common.print_machine()
    samples = soak(args)
    print("\n| figure | value | goal |\n|---|---|---|")
    for row in summary(samples):
        print("| " + " | ".join(row) + " |")
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(asdict(samples[0])))
            writer.writeheader()
            writer.writerows(asdict(s) for s in samples)
    if args.chart:
        Path(args.chart).write_text(
            chart_svg(
                samples, f"Soak: {args.minutes:g} min, {ENDPOINTS} endpoints, {args.users} users ({args.db})"
            )
        )
        print(f"chart: {args.chart}")


if __name__ == "__main__":
    main()
