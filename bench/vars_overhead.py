"""Cost of scenario variables in the Locust child (issue 4): child alone, no parent, no database.

Variants, run in rotation (A, B, C, D, A, B, ...) against the same pinned nginx:

* ``baseline plain``  the child of other code with a plain one-step scenario: ``--baseline REF``
                      (a commit of this repository, extracted with ``git archive`` into a
                      temporary folder; the published figure used ``6bcfd1d^``, the code
                      before variables) or ``--baseline-dir DIR`` (another checkout). Without
                      either there is no baseline and the ratios are to ``plain``;
* ``plain``           this checkout's child, the same scenario (must be unchanged);
* ``static shape``    the same request shape as ``templated`` with fixed values
                      (``?u=user-0001``, ``X-User: user-0001``), no variables: what the
                      query string and the extra header cost by themselves;
* ``templated``       ``/index.html?u=${user}`` plus a header ``X-User: ${user}``, one row per
                      request from a 1,000-row CSV source (sequential);
* ``sequence``        sequence mode, two steps per iteration: the first extracts a regex group
                      from the body, the second sends it as ``?d=${d}``.

Each run: the child is pinned to BENCH_LOAD_CORE, nginx to BENCH_TARGET_CORE. Steady window
(after the warm-up, before the stop): requests/s from nginx's counter and the child's CPU
seconds per 1,000 requests.

    .venv/bin/python bench/vars_overhead.py --rounds 5 --duration 12 --baseline 6bcfd1d^
    .venv/bin/python bench/vars_overhead.py --quick    # 2 rounds x 8 s, no baseline
    .venv/bin/python bench/vars_overhead.py --smoke    # 1 round x 4 s, baseline HEAD (the test suite's size)

No database: the child alone is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import psutil  # noqa: E402


def snapshot(url: str, variant: str, *, users: int, duration: int) -> dict:
    step = {"name": "/index.html", "path": "/index.html"}
    snap = common.make_snapshot(url, [step], users=users, duration=duration)
    scenario = snap["scenario"]
    if variant == "static":
        s = scenario["steps"][0]
        s["query"] = {"u": "user-0001"}
        s["headers"] = {"X-User": "user-0001"}
    elif variant == "templated":
        s = scenario["steps"][0]
        s["query"] = {"u": "${user}"}
        s["headers"] = {"X-User": "${user}"}
        scenario["sources"] = [
            {
                "kind": "csv",
                "mode": "sequential",
                "filename": "u.csv",
                "columns": ["user"],
                "rows": [[f"user-{i:04d}"] for i in range(1000)],
            }
        ]
    elif variant == "sequence":
        first, second = dict(scenario["steps"][0]), dict(scenario["steps"][0])
        first["extract"] = [{"var": "d", "source": "regex", "expr": "doctype (\\w+)"}]
        second["name"], second["query"] = "/index.html?d", {"d": "${d}"}
        scenario["steps"], scenario["mode"] = [first, second], "sequence"
    return snap


def extract(ref: str) -> Path:
    """The tree of commit ``ref`` in a temporary folder (git archive: no checkout, no worktree)."""
    folder = Path(tempfile.mkdtemp(prefix="scaletest-bench-baseline-"))
    archive = subprocess.run(
        ["git", "-C", str(common.BASE_DIR), "archive", "--format=tar", ref], capture_output=True, check=False
    )
    if archive.returncode != 0:
        shutil.rmtree(folder)
        raise SystemExit(f"git archive {ref} failed: {archive.stderr.decode()[-500:]}")
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def child_module(code_dir: Path) -> str | None:
    """The child's module in ``code_dir`` (older checkouts have it at ``runs.core.engine.child``)."""
    for module in ("runs.core.engine.child", "runs.core.engine.child"):
        parts = module.split(".")
        package, single = code_dir.joinpath(*parts), code_dir.joinpath(*parts[:-1], "child.py")
        if (package / "__init__.py").exists() or single.exists():
            return module
    return None


def run_child(nginx: common.Nginx, code_dir: Path, snap: dict, *, warmup: float, length: float) -> dict:
    proc = subprocess.Popen(
        [common.PY, "-m", child_module(code_dir) or "runs.core.engine.child"],
        cwd=str(code_dir),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write((json.dumps(snap) + "\n").encode())
    proc.stdin.flush()
    failures = [0]

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            msg = json.loads(line)
            if msg.get("type") == "second":
                failures[0] += sum(e["failures"] for e in msg["endpoints"])

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    p = psutil.Process(proc.pid)
    nginx.wait_for_load()
    time.sleep(warmup)
    t0, n0, c0 = time.monotonic(), nginx.requests_served(), sum(p.cpu_times()[:2])
    time.sleep(length)
    t1, n1, c1 = time.monotonic(), nginx.requests_served(), sum(p.cpu_times()[:2])
    proc.stdin.close()
    code = proc.wait(60)
    reader.join(10)
    requests = n1 - n0 - 1
    if code != 0:
        raise RuntimeError(f"the child of {code_dir} exited {code}")
    if failures[0]:
        raise RuntimeError(f"{failures[0]} failed requests")
    return {"rps": requests / (t1 - t0), "cpu_per_1k": 1000 * (c1 - c0) / requests}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=12)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--users", type=int, default=20)
    base = ap.add_mutually_exclusive_group()
    base.add_argument("--baseline", metavar="REF", help="a commit whose child is the baseline (git archive)")
    base.add_argument(
        "--baseline-dir", default=os.environ.get("BENCH_BASELINE_DIR"), help="a checkout to use instead"
    )
    common.add_size_arguments(ap, smoke="1 round x 4 s, baseline HEAD", quick="2 rounds x 8 s")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.duration, args.warmup = 2, 8, 1.0
    if args.smoke:
        args.rounds, args.duration, args.warmup = 1, 4, 0.5
        if not args.baseline_dir:
            args.baseline = args.baseline or "HEAD"
    os.sched_setaffinity(0, {common.LOAD_CORE})
    common.print_machine()
    extracted = extract(args.baseline) if args.baseline else None
    baseline_dir = extracted or (Path(args.baseline_dir) if args.baseline_dir else None)
    if baseline_dir is not None and child_module(baseline_dir) is None:
        raise SystemExit(f"{baseline_dir} holds no Locust child: not a ScaleTest checkout")
    if baseline_dir is not None:
        print(f"baseline: {args.baseline or ''} {baseline_dir}")
    nginx = common.Nginx()
    variants = [
        ("plain", common.BASE_DIR, "plain"),
        ("static shape", common.BASE_DIR, "static"),
        ("templated", common.BASE_DIR, "templated"),
        ("sequence", common.BASE_DIR, "sequence"),
    ]
    if baseline_dir is not None:
        variants.insert(0, ("baseline plain", baseline_dir, "plain"))
    reference = variants[0][0]
    results: dict[str, list[dict]] = {name: [] for name, *_ in variants}
    try:
        for r in range(args.rounds):
            line = []
            for name, code_dir, variant in variants:
                snap = snapshot(nginx.url, variant, users=args.users, duration=args.duration)
                res = run_child(
                    nginx, code_dir, snap, warmup=args.warmup, length=args.duration - args.warmup - 3
                )
                results[name].append(res)
                line.append(f"{name} {res['rps']:.0f} req/s {res['cpu_per_1k']:.3f} CPU-s/1k")
            print(f"round {r + 1}: " + " | ".join(line), flush=True)
    finally:
        nginx.stop()
        if extracted is not None:
            shutil.rmtree(extracted, ignore_errors=True)
    m = common.median
    base_rps = [x["rps"] for x in results[reference]]
    base_cpu = [x["cpu_per_1k"] for x in results[reference]]
    print(
        f"\nmedians over {args.rounds} rounds ({args.users} users, {args.duration} s runs)"
        f"; ratios to {reference!r}"
    )
    print(
        "| variant | requests/s | ratio to reference (per round) | child CPU-s per 1,000 requests | ratio |"
    )
    print("|---|---|---|---|---|")
    for name, *_ in variants:
        rps = [x["rps"] for x in results[name]]
        cpu = [x["cpu_per_1k"] for x in results[name]]
        ratios = [a / b for a, b in zip(rps, base_rps, strict=True)]
        cpu_ratios = [a / b for a, b in zip(cpu, base_cpu, strict=True)]
        print(
            f"| {name} | {m(rps):.0f} | {m(ratios):.3f} ({', '.join(f'{x:.3f}' for x in ratios)}) "
            f"| {m(cpu):.3f} | {m(cpu_ratios):.3f} |"
        )


if __name__ == "__main__":
    main()
