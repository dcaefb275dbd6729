"""Profile the ScaleTest child and plain Locust during one overhead pair (py-spy, raw format)
and print where each spends its CPU. Only processes started by this script are profiled.

    .venv/bin/pip install py-spy
    .venv/bin/python bench/profile_generators.py [--seconds 10] [--locust-style plain|same]

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
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--locust-style", default="plain")
    args = ap.parse_args()
    run = subprocess.Popen(
        [PY, str(BENCH / "overhead.py"), "--pairs", "1", "--duration", str(args.seconds + 8), "--warmup", "3",
         "--locust-style", args.locust_style],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    root = psutil.Process(run.pid)
    for who, needle in (("child", "runs.engine.child"), ("locust", "locust -f")):
        proc = find(root, needle)
        time.sleep(3)
        subprocess.run([PYSPY, "record", "-p", str(proc.pid), "-d", str(args.seconds), "-r", "200", "-f", "raw",
                        "-o", f"/tmp/bench-profile-{who}.txt"], capture_output=True)
    out, _ = run.communicate()
    print("\n".join(out.splitlines()[-8:]))
    for who in ("child", "locust"):
        print(f"== {who}")
        subprocess.run([PY, str(BENCH / "flame_summary.py"), f"/tmp/bench-profile-{who}.txt"])


if __name__ == "__main__":
    main()
