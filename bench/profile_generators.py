"""Profile the ScaleTest child and plain Locust during one overhead pair (py-spy, raw format)
and print where each spends its CPU. Only processes started by this script are profiled.

    .venv/bin/python bench/profile_generators.py [--seconds 10] [--locust-style plain|same]
    .venv/bin/python bench/profile_generators.py --smoke      # 1 s of each (the test suite's size)

py-spy comes with requirements.txt (the venv ``manage.py`` builds). It reads the generators'
memory with ptrace: a container needs the SYS_PTRACE capability, and the script stops with
py-spy's own message when it cannot attach.

Writes /tmp/bench-profile-child.txt and /tmp/bench-profile-locust.txt (collapsed stacks,
``py-spy record -f raw``; speedscope or flamegraph.pl read them).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import psutil

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import common  # noqa: E402
from flame_summary import summarise  # noqa: E402

PY = sys.executable
PYSPY = str(Path(PY).parent / "py-spy")


def find(root: psutil.Process, needle: str) -> psutil.Process:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for p in root.children(recursive=True):
            try:
                if needle in " ".join(p.cmdline()):
                    return p
            except psutil.NoSuchProcess:
                pass
        time.sleep(0.1)
    raise SystemExit(f"no {needle!r} under {root.pid}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=10, help="seconds of profile of each generator")
    ap.add_argument("--locust-style", default="plain")
    ap.add_argument("--top", type=int, default=15, help="frames per generator in the table")
    common.add_size_arguments(ap, smoke="1 s of profile of each generator")
    common.add_db_argument(ap, choices=("postgres",), why=common.LOAD_DB_WHY)
    args = ap.parse_args()
    settle = 3  # seconds between finding a generator and profiling it (users started, warm)
    if args.smoke:
        args.seconds, settle = 1, 1
    if not Path(PYSPY).exists():
        raise SystemExit(
            f"py-spy is missing at {PYSPY}: it comes with requirements.txt (python3 manage.py test "
            "or up refreshes .venv), or .venv/bin/pip install py-spy"
        )
    run = subprocess.Popen(
        [
            PY,
            str(BENCH / "overhead.py"),
            "--pairs",
            "1",
            "--duration",
            str(args.seconds + settle + 5),
            "--warmup",
            "0.5" if args.smoke else "3",
            "--locust-style",
            args.locust_style,
            "--db",
            args.db,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        root = psutil.Process(run.pid)
        for who, needle in (("child", "runs.core.engine.child"), ("locust", "locust -f")):
            proc = find(root, needle)
            time.sleep(settle)
            spy = subprocess.run(
                [
                    PYSPY,
                    "record",
                    "-p",
                    str(proc.pid),
                    "-d",
                    str(args.seconds),
                    "-r",
                    "200",
                    "-f",
                    "raw",
                    "-o",
                    f"/tmp/bench-profile-{who}.txt",
                ],
                capture_output=True,
                text=True,
            )
            if spy.returncode != 0:
                raise SystemExit(
                    f"py-spy could not profile the {who} (exit {spy.returncode}): {spy.stderr[-1500:]}"
                )
    except BaseException:
        run.kill()
        raise
    out, _ = run.communicate()
    if run.returncode != 0:
        raise SystemExit(f"bench/overhead.py exited {run.returncode}:\n{out[-3000:]}")
    print("\n".join(out.splitlines()[-8:]))
    print(f"\nself time per frame, top {args.top} of each generator ({args.seconds} s at 200 Hz)")
    print("| generator | samples | frame | self |")
    print("|---|---|---|---|")
    for who in ("child", "locust"):
        total, self_t, _ = summarise(f"/tmp/bench-profile-{who}.txt")
        if not total:
            raise SystemExit(f"py-spy recorded no samples of the {who}")
        for frame, n in self_t.most_common(args.top):
            print(f"| {who} | {total} | {frame.replace('|', '/')} | {100 * n / total:.1f}% |")
    for who in ("child", "locust"):
        print(f"\n== {who}", flush=True)
        subprocess.run([PY, str(BENCH / "flame_summary.py"), f"/tmp/bench-profile-{who}.txt"], check=True)


if __name__ == "__main__":
    main()
