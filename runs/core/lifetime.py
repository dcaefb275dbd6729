"""Nothing outlives the process that started it: parent-death signals and the one-beat lock.

Every long-lived process ScaleTest starts asks the kernel to kill it when its parent dies
(Linux ``prctl(PR_SET_PDEATHSIG)``), however the parent dies: a SIGKILL or the OOM killer runs
no cleanup code, so a clean-shutdown path alone leaves orphans behind. The chain:

* ``manage.py up`` -> demo target, Celery worker, beat, gunicorn master (``die_with_parent_preexec``
  in ``runs.core.supervisor``);
* gunicorn master -> its workers (``post_fork`` in ``scaletest_site/gunicorn_conf.py``);
* Celery worker -> its prefork pool (Celery does this itself: ``process_initializer``) and an
  embedded beat of ``worker -B`` (``runs.tasks``, on ``beat_embedded_init``);
* pool process -> the Locust child of a run or a generator (``runs.engine.supervision.spawn_child``).

The kernel's "parent" is the *thread* that forked the child: the signal fires when that thread
exits, even while the process lives on. So every spawn above happens on a thread that lives as
long as its process (the main thread of ``up``, of gunicorn's arbiter, of Celery's worker and
of a prefork pool process, where tasks run).

Beat must run exactly once per deployment, or every periodic task is sent twice:
``beat_lock_hold`` takes an exclusive ``flock`` on ``<data dir>/beat.lock`` for the life of the
beat process. The kernel drops it when the process dies, however it dies, so a killed beat never
blocks its successor, while a second beat on the same data dir refuses to start.

No Django here: ``up``'s supervisor, gunicorn's config and the runner share it.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

PR_SET_PDEATHSIG = 1


@functools.cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    return ctypes.CDLL(None, use_errno=True)


def die_with_parent(*, parent_pid: int, sig: int = signal.SIGKILL) -> bool:
    """Have the kernel send ``sig`` to this process when the thread that forked it exits.

    Call it first thing in a freshly forked child. ``parent_pid`` is the pid of the process that
    forked us: if it died before the request took effect, nothing would ever fire, so we send
    ``sig`` to ourselves. Returns False where the platform has no parent-death signal.
    """
    libc = _libc()
    if libc is None:
        return False
    libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), sig)
    return True


def die_with_parent_preexec(sig: int = signal.SIGKILL) -> Callable[[], None] | None:
    """A ``preexec_fn`` for ``subprocess.Popen``: the child gets ``sig`` when this process dies.

    libc is loaded here, before the fork: the child must not load libraries (a lock another
    thread held at fork time would never be released). Spawn from a thread that lives as long
    as this process, normally the main thread (see the module docstring).
    """
    libc = _libc()
    if libc is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


class BeatLockHeld(RuntimeError):
    """Another live beat holds the lock on this data dir."""

    def __init__(self, path: Path, holder: str) -> None:
        self.path = path
        self.holder = holder
        super().__init__(
            f"another Celery beat ({holder}) already runs on this data dir and holds {path}; "
            "a second one would send every periodic task twice, so this one does not start"
        )


_held: list[int] = []  # the lock's descriptor stays open (and locked) until the process exits


def beat_lock_hold(path: Path) -> None:
    """Take the exclusive beat lock at ``path`` for the rest of this process's life.

    Raises ``BeatLockHeld`` (naming the holder's pid) when another process has it. Calling it
    again in the process that holds it does nothing.
    """
    if _held:
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = ""
        with contextlib.suppress(OSError):
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
        os.close(fd)
        raise BeatLockHeld(path, f"pid {holder}" if holder else "pid unknown") from None
    # Only the holder writes: the pid is for people and tests; the flock is the lock.
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _held.append(fd)


def beat_lock_holder(path: Path) -> int | None:
    """The pid written by the beat that holds the lock at ``path``, or None if nobody holds it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 64, 0).decode(errors="replace").strip()
            return int(text) if text.isdigit() else None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
