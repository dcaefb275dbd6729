"""Benchmark 5 (scale-out): one generator process against two, on the same target.

A = a single-process run (generators = 1): ``runs.engine.runner.run_execute`` spawns one child.
B = a distributed run (generators = 2): ``run_execute`` spawns the child as a Locust master and
    two Locust worker children connect to it over ZeroMQ on loopback, each started by
    ``runs.engine.generator.generator_execute`` exactly as the ``run_generator`` Celery task
    does; only the Celery hop is replaced by a thread in this process (the broker is not on
    the load path), so no Celery worker is needed.

nginx (1 worker, pinned to BENCH_TARGET_CORE, default 1) serves a 612-byte static file: far
cheaper per request than a generator, so it is not the limit. The generators are NOT pinned:
the operating system spreads them over the cores, which on a 2-core machine means the second
generator shares a core with nginx (and with anything else running). A and B alternate.

Measured in a steady window like bench/overhead.py: requests/s from nginx's own counter, CPU
(user + system) of every engine child (master and workers), and each run's stored total
checked against its own figures (no failures).

    .venv/bin/python bench/scaleout.py                 # 3 pairs x 20 s, 40 users
    .venv/bin/python bench/scaleout.py --quick         # 2 pairs x 12 s
    .venv/bin/python bench/scaleout.py --smoke         # 1 pair x 7 s (the test suite's size)
    .venv/bin/python bench/scaleout.py --quick --default-install

``--default-install``: the embedded default `manage.py up` runs, Celery hop included. SQLite,
the filesystem broker in a data dir of its own, and a generator worker started with the
arguments `up` gives it (two pool processes); B's generator tasks go through the broker to that
worker, as on a fresh `up`. Its Locust children are measured like the others.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import psutil  # noqa: E402
from overhead import Window  # noqa: E402


def run_once(
    nginx: common.Nginx, args: argparse.Namespace, generators: int, worker: psutil.Process | None = None
) -> dict[str, Any]:
    from runs.engine import generator, runner
    from runs.models import GeneratorSecond, Run

    snapshot = common.make_snapshot(
        nginx.url, [{"path": "/index.html"}], users=args.users, duration=args.duration
    )
    snapshot["generators"] = generators
    run_id = common.create_running_run(snapshot)
    Run.objects.filter(pk=run_id).update(generators=generators)
    me = psutil.Process()
    threads: list[threading.Thread] = []

    def send_generators(sup: Any, port: int) -> None:  # what the run_generator tasks do, in threads
        sup.generators_sent = True
        for index in range(sup.generators):
            t = threading.Thread(
                target=generator.generator_execute,
                kwargs={
                    "run_id": sup.run_id,
                    "index": index,
                    "master_host": "127.0.0.1",
                    "master_port": port,
                    "pin": sup.generator_pin,
                },
                daemon=True,
            )
            t.start()
            threads.append(t)

    def find() -> dict[str, psutil.Process]:
        candidates = me.children() + (worker.children(recursive=True) if worker is not None else [])
        kids = [p for p in candidates if "runs.core.engine.child" in " ".join(p.cmdline())]
        if len(kids) != (1 if generators == 1 else generators + 1):
            raise RuntimeError(f"expected {generators} generator(s), found {kids}")
        return {str(p.pid): p for p in kids}

    original = runner._send_generators
    if worker is None:  # else the real run_generator tasks, through the broker
        runner._send_generators = send_generators
    try:
        window = Window(nginx, find, warmup=args.warmup, length=args.duration - args.warmup - 4)
        status = runner.run_execute(run_id=run_id)
        result: dict[str, Any] = window.join()
    finally:
        runner._send_generators = original
    for t in threads:
        t.join(30)
    run = Run.objects.get(pk=run_id)
    if status != Run.Status.FINISHED or run.total_failures:
        raise RuntimeError(
            f"run {run_id} ended {status} with {run.total_failures} failures: {run.error_message}"
        )
    cpus = sorted((v for k, v in result.items() if k.startswith("cpu_")), reverse=True)
    result["cpu"] = sum(cpus)
    result["cpu_each"] = [c / result["seconds"] * 100 for c in cpus]
    result["run_id"] = run_id
    result["p50"], result["p95"] = run.p50_ms, run.p95_ms
    if generators > 1:
        per = [
            sum(GeneratorSecond.objects.filter(run_id=run_id, generator=g).values_list("requests", flat=True))
            for g in range(generators)
        ]
        assert sum(per) == run.total_requests, (per, run.total_requests)
        result["per_generator"] = per
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=20, help="seconds of load per run")
    ap.add_argument("--warmup", type=float, default=4.0)
    ap.add_argument("--users", type=int, default=40)
    common.add_size_arguments(ap, smoke="1 pair x 7 s", quick="2 pairs x 12 s")
    common.add_db_argument(ap, choices=("postgres",), why=common.LOAD_DB_WHY)
    ap.add_argument(
        "--default-install",
        action="store_true",
        help="SQLite, the filesystem broker and a generator worker as `manage.py up` starts it",
    )
    args = ap.parse_args()
    if args.quick:
        args.pairs, args.duration, args.warmup = 2, 12, 3.0
    if args.smoke:
        args.pairs, args.duration, args.warmup = 1, 7, 2.0
    if args.default_install:
        args.db = "sqlite"
        for key in ("REDIS_URL", "CELERY_BROKER_URL", "SCALETEST_QUEUE", "SCALETEST_GENERATOR_QUEUE"):
            os.environ.pop(key, None)
        os.environ["SCALETEST_DATA_DIR"] = tempfile.mkdtemp(prefix="scaletest-bench-default-")
    common.django_setup(db=args.db)
    common.print_machine()
    worker = start_generator_worker() if args.default_install else None
    print(f"load average at start: {open('/proc/loadavg').read().split()[:3]}")
    nginx = common.Nginx()
    print(
        f"nginx on core {common.TARGET_CORE} at {nginx.url}; generators unpinned; {args.users} users; "
        f"{args.duration} s runs"
    )
    one, two = [], []
    try:
        for i in range(args.pairs):
            a = run_once(nginx, args, 1)
            b = run_once(nginx, args, 2, worker)
            one.append(a)
            two.append(b)
            print(
                f"pair {i + 1}: 1 generator {a['rps']:.0f} req/s "
                f"(CPU {', '.join(f'{c:.0f}%' for c in a['cpu_each'])}, "
                f"p50 {a['p50']:.2f} ms) | 2 generators {b['rps']:.0f} req/s (CPU "
                f"{', '.join(f'{c:.0f}%' for c in b['cpu_each'])}, p50 {b['p50']:.2f} ms, per generator "
                f"{b['per_generator']}) | ratio {b['rps'] / a['rps']:.2f}",
                flush=True,
            )
    finally:
        nginx.stop()
        if worker is not None:
            stop_generator_worker(worker)
    m = common.median
    ratios = [b["rps"] / a["rps"] for a, b in zip(one, two, strict=True)]
    print(f"\nmedians over {args.pairs} pairs")
    print("| figure | 1 generator | 2 generators | 2/1 |")
    print("|---|---|---|---|")
    print(
        f"| requests/s (nginx counter) | {m([a['rps'] for a in one]):.0f} | {m([b['rps'] for b in two]):.0f} "
        f"| **{m(ratios):.2f}** (pairs: {', '.join(f'{r:.2f}' for r in ratios)}) |"
    )
    print(
        "| CPU-s per 1,000 requests (all engine processes) | "
        f"{m([1000 * a['cpu'] / a['requests'] for a in one]):.3f} "
        f"| {m([1000 * b['cpu'] / b['requests'] for b in two]):.3f} | |"
    )
    print(
        f"| requests/s per busy core (req/s / (CPU-s / wall-s)) | "
        f"{m([a['rps'] / (a['cpu'] / a['seconds']) for a in one]):.0f} | "
        f"{m([b['rps'] / (b['cpu'] / b['seconds']) for b in two]):.0f} | |"
    )


def start_generator_worker() -> psutil.Process:
    """The generator worker `manage.py up` runs (its own arguments), on this script's data dir."""
    from django.conf import settings

    from runs.core.lifetime import die_with_parent_preexec
    from runs.management.commands.up import _generator_programs
    from runs.services.generators import generators_capacity

    [program] = _generator_programs([sys.executable, "-m", "celery", "-A", "scaletest_site"], 2)
    log = open(os.path.join(settings.DATA_DIR, "generators.log"), "wb")  # noqa: SIM115 - the worker's life
    proc = subprocess.Popen(
        program.argv,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent_preexec(),
    )
    deadline = time.monotonic() + 90
    while (capacity := generators_capacity(refresh=True)).connected < 2:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the generator worker did not connect: {capacity.describe()}")
        time.sleep(1)
    print(f"generator worker: {capacity.describe()} (filesystem broker in {settings.BROKER_DIR})")
    return psutil.Process(proc.pid)


def stop_generator_worker(worker: psutil.Process) -> None:
    import signal

    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(20)
    except psutil.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
