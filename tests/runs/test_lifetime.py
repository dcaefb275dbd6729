"""runs.core.lifetime on real processes: children die with their parent, and one beat lock per data dir.

A "parent" here is a small Python process the test SIGKILLs, so none of its cleanup code runs:
only the kernel's parent-death signal can end the child.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from runs.core.lifetime import beat_lock_holder
from tests.proctree import alive, wait_gone

ROOT = Path(__file__).resolve().parents[2]

# Spawns a child through the preexec_fn, as `up` and the runner do.
SPAWNS = """
import subprocess, sys, time
from runs.core.lifetime import die_with_parent_preexec
sleeper = [sys.executable, "-c", "import time; time.sleep(300)"]
child = subprocess.Popen(sleeper, preexec_fn=die_with_parent_preexec())
print(child.pid, flush=True)
time.sleep(300)
"""

# Forks a child that asks for the signal itself, as gunicorn's workers do in post_fork.
FORKS = """
import os, time
from runs.core.lifetime import die_with_parent
parent = os.getpid()
pid = os.fork()
if pid == 0:
    die_with_parent(parent_pid=parent)
    time.sleep(300)
    os._exit(0)
print(pid, flush=True)
time.sleep(300)
"""

HOLDS = """
import sys, time
from pathlib import Path
from runs.core.lifetime import BeatLockHeld, beat_lock_hold
try:
    beat_lock_hold(Path(sys.argv[1]))
except BeatLockHeld as exc:
    print(exc, flush=True)
    sys.exit(1)
print("holding", flush=True)
time.sleep(300)
"""


def _parent(code: str, *args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def test_a_child_spawned_with_the_preexec_dies_when_its_parent_is_killed() -> None:
    parent, pid = _parent(SPAWNS)
    child = psutil.Process(int(pid))
    assert alive(child)
    parent.kill()
    parent.wait()
    wait_gone([child], 10, "the child of the killed parent to die")


def test_a_forked_child_that_asks_for_it_dies_when_its_parent_is_killed() -> None:
    parent, pid = _parent(FORKS)
    child = psutil.Process(int(pid))
    assert alive(child)
    parent.kill()
    parent.wait()
    wait_gone([child], 10, "the forked child of the killed parent to die")


def test_a_second_holder_of_the_beat_lock_is_refused_until_the_first_dies(tmp_path: Path) -> None:
    lock = tmp_path / "beat.lock"
    assert beat_lock_holder(lock) is None
    first, said = _parent(HOLDS, str(lock))
    try:
        assert said == "holding"
        assert beat_lock_holder(lock) == first.pid

        second, said = _parent(HOLDS, str(lock))
        assert second.wait(timeout=30) == 1
        assert f"another Celery beat (pid {first.pid}) already runs" in said and str(lock) in said

        # However the holder dies, the kernel releases the lock: a killed beat never blocks the next.
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        assert beat_lock_holder(lock) is None
        third, said = _parent(HOLDS, str(lock))
        assert said == "holding" and beat_lock_holder(lock) == third.pid
        third.kill()
        third.wait()
    finally:
        first.kill()
        first.wait()
