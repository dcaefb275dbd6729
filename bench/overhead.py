"""Benchmark 1 (generation overhead) and 4b (ingestion CPU share).

A = a ScaleTest run through the real parent: ``runs.engine.runner.run_execute`` (what the
Celery task calls after the claim) spawns the real child, reads the channel and ingests into
PostgreSQL (database ``scaletest_bench``).
B = plain ``locust --headless`` with the same FastHttpUser, users and duration
(bench/locustfile.py).

The driver pins itself to BENCH_LOAD_CORE (default 0) before anything starts, so the ScaleTest
parent, its child and plain Locust all run on that one core; nginx (1 worker) serves a small
static file from BENCH_TARGET_CORE (default 1). A and B alternate (ABAB...).

Each run is measured in a steady window (load established + warm-up, ending before the stop):
requests/s from nginx's own counter (stub_status, the same meter for A and B) and CPU seconds
(user + system, psutil) of the generating processes; CPU per 1,000 requests = CPU / requests.
For A the generator is child + parent; the child alone and the parent's share are printed too.

    .venv/bin/python bench/overhead.py              # 5 pairs x 20 s, 1 endpoint
    .venv/bin/python bench/overhead.py --quick      # 3 pairs x 12 s
    .venv/bin/python bench/overhead.py --smoke      # 1 pair x 5 s (the test suite's size;
                                                    # numbers meaningless)
    .venv/bin/python bench/overhead.py --endpoints 20 --pairs 3   # ingestion share at 20 endpoints
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import psutil  # noqa: E402


class Window:
    """Samples (time, nginx counter, CPU of the given processes) at the start and end of the
    steady window, from a thread, while a run goes on."""

    def __init__(self, nginx: common.Nginx, find_procs, *, warmup: float, length: float) -> None:
        self.nginx, self.find_procs, self.warmup, self.length = nginx, find_procs, warmup, length
        self.result: dict[str, float] | None = None
        self.error: str = ""
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _cpu(self, procs: dict[str, psutil.Process]) -> dict[str, float]:
        out = {}
        for key, p in procs.items():
            t = p.cpu_times()
            out[key] = t.user + t.system
        return out

    def _run(self) -> None:
        try:
            self.nginx.wait_for_load()
            time.sleep(self.warmup)
            procs = self.find_procs()
            t0, n0, c0 = time.monotonic(), self.nginx.requests_served(), self._cpu(procs)
            time.sleep(self.length)
            t1, n1, c1 = time.monotonic(), self.nginx.requests_served(), self._cpu(procs)
            reqs = n1 - n0 - 1  # the status request itself
            if reqs <= 0:
                raise RuntimeError(
                    f"no requests reached nginx in the {t1 - t0:.1f} s steady window "
                    "(the load ended first: a longer --duration)"
                )
            self.result = {"seconds": t1 - t0, "requests": reqs, "rps": reqs / (t1 - t0)}
            for key in c0:
                self.result[f"cpu_{key}"] = c1[key] - c0[key]
            if not any(c1[key] > c0[key] for key in c0):
                raise RuntimeError("the generating processes used no CPU in the steady window")
        except Exception as exc:  # noqa: BLE001 - reported with the run
            self.error = f"{type(exc).__name__}: {exc}"

    def join(self) -> dict[str, float]:
        self.thread.join(60)
        if self.result is None:
            raise RuntimeError(f"window not measured: {self.error}")
        return self.result


def steps_for(endpoints: int) -> list[dict]:
    if endpoints == 1:
        return [{"path": "/index.html"}]
    return [{"path": f"/index.html?e={i}", "name": f"/endpoint-{i:02d}"} for i in range(endpoints)]


def run_scaletest(nginx: common.Nginx, args: argparse.Namespace) -> dict[str, float]:
    from runs.engine import runner
    from runs.models import EndpointSecond, Run

    snapshot = common.make_snapshot(
        nginx.url, steps_for(args.endpoints), users=args.users, duration=args.duration
    )
    run_id = common.create_running_run(snapshot)
    me = psutil.Process()

    def find() -> dict[str, psutil.Process]:
        kids = [p for p in me.children() if "runs.core.engine.child" in " ".join(p.cmdline())]
        if len(kids) != 1:
            raise RuntimeError(f"expected one child, found {kids}")
        return {"child": kids[0], "parent": me}

    window = Window(nginx, find, warmup=args.warmup, length=args.duration - args.warmup - 4)
    status = runner.run_execute(run_id=run_id)
    result = window.join()
    run = Run.objects.get(pk=run_id)
    if status != Run.Status.FINISHED or run.total_failures:
        raise RuntimeError(
            f"run {run_id} ended {status} with {run.total_failures} failures: {run.error_message}"
        )
    result["cpu"] = result["cpu_child"] + result["cpu_parent"]
    result["run_id"] = run_id
    result["total_requests"] = run.total_requests
    result["endpoint_rows"] = EndpointSecond.objects.filter(run_id=run_id).count()
    return result


def run_locust(nginx: common.Nginx, args: argparse.Namespace) -> dict[str, float]:
    env = dict(os.environ, BENCH_STYLE=args.locust_style)
    if args.endpoints > 1:
        env["BENCH_PATH"] = ",".join(f"/index.html?e={i}" for i in range(args.endpoints))
    proc = subprocess.Popen(
        [
            common.PY,
            "-m",
            "locust",
            "-f",
            str(common.BASE_DIR / "bench" / "locustfile.py"),
            "--headless",
            "-u",
            str(args.users),
            "-r",
            str(args.users),
            "-t",
            f"{args.duration}s",
            "--host",
            nginx.url,
            "--only-summary",
            "--loglevel",
            "WARNING",
            "--stop-timeout",
            "2",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    p = psutil.Process(proc.pid)
    window = Window(nginx, lambda: {"locust": p}, warmup=args.warmup, length=args.duration - args.warmup - 4)
    _, err = proc.communicate(timeout=args.duration + 60)
    result = window.join()
    result["cpu"] = result["cpu_locust"]
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"locust exited {proc.returncode}: {err[-2000:]}")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--duration", type=int, default=20, help="seconds of load per run")
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--endpoints", type=int, default=1)
    ap.add_argument("--locust-style", choices=("plain", "same"), default="plain")
    common.add_size_arguments(ap, smoke="1 pair x 5 s", quick="3 pairs x 12 s")
    common.add_db_argument(ap, choices=("postgres",), why=common.LOAD_DB_WHY)
    args = ap.parse_args()
    if args.quick:
        args.pairs, args.duration, args.warmup = 3, 12, 2.0
    if args.smoke:
        args.pairs, args.duration, args.warmup = 1, 5, 0.5
    os.sched_setaffinity(0, {common.LOAD_CORE})
    common.django_setup(db=args.db)
    common.print_machine()
    nginx = common.Nginx()
    print(
        f"nginx on core {common.TARGET_CORE} at {nginx.url}; generators on core {common.LOAD_CORE}; "
        f"{args.users} users, {args.endpoints} endpoint(s), {args.duration} s runs, "
        f"locust style {args.locust_style}"
    )
    a_runs, b_runs = [], []
    try:
        for i in range(args.pairs):
            a = run_scaletest(nginx, args)
            b = run_locust(nginx, args)
            a_runs.append(a)
            b_runs.append(b)
            print(
                f"pair {i + 1}: ScaleTest {a['rps']:.0f} req/s, "
                f"{1000 * a['cpu'] / a['requests']:.3f} CPU-s/1k "
                f"(child {1000 * a['cpu_child'] / a['requests']:.3f}, "
                f"parent {100 * a['cpu_parent'] / a['cpu_child']:.2f}% of child) | "
                f"Locust {b['rps']:.0f} req/s, {1000 * b['cpu'] / b['requests']:.3f} CPU-s/1k | "
                f"rps ratio {a['rps'] / b['rps']:.3f}",
                flush=True,
            )
    finally:
        nginx.stop()
    rps_ratios = [a["rps"] / b["rps"] for a, b in zip(a_runs, b_runs, strict=True)]
    cpu_a = [1000 * a["cpu"] / a["requests"] for a in a_runs]
    cpu_a_child = [1000 * a["cpu_child"] / a["requests"] for a in a_runs]
    cpu_b = [1000 * b["cpu"] / b["requests"] for b in b_runs]
    cpu_ratios = [x / y for x, y in zip(cpu_a, cpu_b, strict=True)]
    parent_share = [100 * a["cpu_parent"] / a["cpu_child"] for a in a_runs]
    m = common.median
    print("\nmedians over", args.pairs, "pairs")
    print("| figure | ScaleTest (A) | plain Locust (B) | A/B |")
    print("|---|---|---|---|")
    print(
        f"| requests/s (nginx counter) | {m([a['rps'] for a in a_runs]):.0f} | "
        f"{m([b['rps'] for b in b_runs]):.0f} "
        f"| **{m(rps_ratios):.3f}** (pairs: {', '.join(f'{r:.3f}' for r in rps_ratios)}) |"
    )
    print(
        f"| CPU-s per 1,000 requests (A = child + parent) | {m(cpu_a):.3f} | {m(cpu_b):.3f} "
        f"| {m(cpu_ratios):.3f} (pairs: {', '.join(f'{r:.3f}' for r in cpu_ratios)}) |"
    )
    print(
        f"| CPU-s per 1,000 requests, child alone | {m(cpu_a_child):.3f} | | "
        f"{m([x / y for x, y in zip(cpu_a_child, cpu_b, strict=True)]):.3f} |"
    )
    print(
        f"| parent CPU as % of child CPU | {m(parent_share):.2f}% "
        f"(runs: {', '.join(f'{s:.2f}' for s in parent_share)}) | | |"
    )
    print(
        f"| load-core utilisation (CPU-s / wall-s) | {m([a['cpu'] / a['seconds'] for a in a_runs]):.2f} "
        f"| {m([b['cpu'] / b['seconds'] for b in b_runs]):.2f} | |"
    )


if __name__ == "__main__":
    main()
