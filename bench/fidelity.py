"""Benchmark 2: latency fidelity. p50/p95/p99 error against the truth, ScaleTest beside Locust.

For each target (sub-millisecond static file on nginx; the demo target's /delay at 5 ms and
1049 ms; a 90% 5 ms / 10% 200 ms mix of two weighted steps under one name) it runs:

* ScaleTest through the real parent (runs.engine.runner.run_execute, ingesting into the
  ``scaletest_bench`` PostgreSQL database), the child being bench/tap_child.py: the real
  child plus a tap that keeps every raw response time. ScaleTest's figure is the
  EndpointSummary percentile (what the run page shows).
* plain ``locust --headless --csv`` with bench/locustfile.py and the same tap. Locust's figure
  is its own stats CSV (``50%``, ``95%``, ``99%``).

Truth = the exact nearest-rank percentile of the raw client-observed response times of the
same run (the same requests each tool reports on). The configured delay is shown for
reference; the observed latency adds the server's and the client's own time to it.
Error = |reported - truth| / truth; medians over --repeat runs.

    .venv/bin/python bench/fidelity.py            # 3 repeats, 15 s per run
    .venv/bin/python bench/fidelity.py --quick    # 1 repeat, 8 s per run
    .venv/bin/python bench/fidelity.py --smoke    # 1 repeat, 3 s per run, the mixed target only
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

QS = (50, 95, 99)
TARGETS = [
    # key, description, server, steps (path, weight), users
    ("sub-ms", "nginx static file (sub-ms)", "nginx", [("/index.html", 1)], 4),
    ("5ms", "/delay?ms=5", "demo", [("/delay?ms=5", 1)], 10),
    ("1049ms", "/delay?ms=1049", "demo", [("/delay?ms=1049", 1)], 60),
    ("mixed", "90% 5 ms / 10% 200 ms", "demo", [("/delay?ms=5", 9), ("/delay?ms=200", 1)], 20),
]
NAME = "/bench"


def exact(samples: list[float], q: float) -> float:
    """Nearest rank: the smallest sample with at least q% of the samples <= it."""
    s = sorted(samples)
    return s[max(1, math.ceil(q / 100 * len(s))) - 1]


def read_tap(path: str) -> list[float]:
    with open(path) as f:
        return [float(x) for x in f.read().split()]


def start_demo() -> tuple[subprocess.Popen, str]:
    port = common.free_port()
    code = (
        "import sys, time; sys.path.insert(0, '.');"
        "from runs.core.demo_target import DemoServer; "
        f"DemoServer(('127.0.0.1', {port})).serve_forever()"
    )
    proc = subprocess.Popen(
        ["taskset", "-c", str(common.TARGET_CORE), common.PY, "-c", code],
        cwd=str(common.BASE_DIR),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    common.wait_port(port)
    return proc, f"http://127.0.0.1:{port}"


def run_scaletest(url: str, steps, users: int, duration: int, tap: str) -> dict[float | str, Any]:
    from runs.engine import runner
    from runs.models import EndpointSummary, Run

    snapshot = common.make_snapshot(
        url, [{"path": p, "weight": w, "name": NAME} for p, w in steps], users=users, duration=duration
    )
    run_id = common.create_running_run(snapshot)
    os.environ["BENCH_TAP"] = tap

    def spawn_tapped():
        return subprocess.Popen(
            [sys.executable, str(common.BASE_DIR / "bench" / "tap_child.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=str(common.BASE_DIR),
            process_group=0,
            close_fds=True,
        )

    real = runner.spawn_child
    runner.spawn_child = spawn_tapped
    try:
        status = runner.run_execute(run_id=run_id)
    finally:
        runner.spawn_child = real
    if status != Run.Status.FINISHED:
        raise RuntimeError(f"run {run_id} ended {status}: {Run.objects.get(pk=run_id).error_message}")
    s = EndpointSummary.objects.get(run_id=run_id, name=NAME)
    return {50: s.p50_ms, 95: s.p95_ms, 99: s.p99_ms, "n": s.requests}


def run_locust(url: str, steps, users: int, duration: int, tap: str, prefix: str) -> dict[float | str, Any]:
    env = dict(os.environ, BENCH_TAP=tap, BENCH_NAME=NAME, BENCH_PATH=",".join(f"{p}*{w}" for p, w in steps))
    proc = subprocess.run(
        [
            common.PY,
            "-m",
            "locust",
            "-f",
            str(common.BASE_DIR / "bench" / "locustfile.py"),
            "--headless",
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            f"{duration}s",
            "--host",
            url,
            "--only-summary",
            "--loglevel",
            "WARNING",
            "--stop-timeout",
            "3",
            "--csv",
            prefix,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=duration + 60,
    )
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"locust exited {proc.returncode}: {proc.stderr[-2000:]}")
    with open(prefix + "_stats.csv") as f:
        row = next(r for r in csv.DictReader(f) if r["Name"] == NAME)
    return {
        50: float(row["50%"]),
        95: float(row["95%"]),
        99: float(row["99%"]),
        "n": int(row["Request Count"]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--only", help="comma-separated target keys: " + ",".join(t[0] for t in TARGETS))
    common.add_size_arguments(
        ap,
        smoke="1 repeat x 3 s, the mixed target only (demo target, two weighted steps)",
        quick="1 repeat x 8 s",
    )
    common.add_db_argument(ap, choices=("postgres",), why=common.LOAD_DB_WHY)
    args = ap.parse_args()
    if args.quick:
        args.repeat, args.duration = 1, 8
    if args.smoke:
        args.repeat, args.duration, args.only = 1, 3, "mixed"
    os.sched_setaffinity(0, {common.LOAD_CORE})
    common.django_setup(db=args.db)
    common.print_machine()
    nginx = common.Nginx()
    demo, demo_url = start_demo()
    tmp = tempfile.mkdtemp(prefix="scaletest-bench-fidelity-")
    rows = []
    try:
        for key, desc, server, steps, users in TARGETS:
            if args.only and key not in args.only.split(","):
                continue
            url = nginx.url if server == "nginx" else demo_url
            err: dict[str, dict[int, list[float]]] = {"st": {q: [] for q in QS}, "lo": {q: [] for q in QS}}
            last = {}
            for i in range(args.repeat):
                for tool in ("st", "lo"):  # interleaved
                    tap = f"{tmp}/{key}-{tool}-{i}.tap"
                    if tool == "st":
                        rep = run_scaletest(url, steps, users, args.duration, tap)
                    else:
                        rep = run_locust(url, steps, users, args.duration, tap, f"{tmp}/{key}-{i}")
                    samples = read_tap(tap)
                    truth = {q: exact(samples, q) for q in QS}
                    for q in QS:
                        err[tool][q].append(abs(rep[q] - truth[q]) / truth[q] * 100)
                    last[tool] = (rep, truth, len(samples))
                    print(
                        f"{key} run {i + 1} {'ScaleTest' if tool == 'st' else 'Locust   '} "
                        f"n={len(samples)} (reported {rep['n']}): "
                        + "  ".join(
                            f"p{q} {rep[q]:.3f} vs {truth[q]:.3f} ms ({err[tool][q][-1]:.2f}%)" for q in QS
                        ),
                        flush=True,
                    )
            rows.append((key, desc, last, err))
    finally:
        nginx.stop()
        demo.terminate()
        demo.wait(5)
    print(
        f"\nmedians over {args.repeat} run(s) of each tool; error = |reported - exact| / exact "
        "(exact = nearest rank of that run's raw client-observed samples)"
    )
    print(
        "| target | pct | truth (ms, last run) | ScaleTest (ms) | ScaleTest error |"
        " Locust (ms) | Locust error |"
    )
    print("|---|---|---|---|---|---|---|")
    for _key, desc, last, err in rows:
        for q in QS:
            st_rep, st_truth, _ = last["st"]
            lo_rep, lo_truth, _ = last["lo"]
            print(
                f"| {desc} | p{q} | {st_truth[q]:.3f} / {lo_truth[q]:.3f} | {st_rep[q]:.3f} | "
                f"**{common.median(err['st'][q]):.3f}%** "
                f"| {lo_rep[q]:.0f} | {common.median(err['lo'][q]):.2f}% |"
            )


if __name__ == "__main__":
    main()
