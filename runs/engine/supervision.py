"""Supervising a Locust child from a Celery task: shared by the run's parent (``runner``) and
each generator of a distributed run (``generator``).

It spawns the child (``python -m runs.core.engine.child``), reads its channel on two threads
(``ChildIO``), keeps what every supervisor must know of it (``ChildState``: the end message, the
stop under way) and stops it the one way the engine stops a child: the ``stop`` command and
EOF at once, SIGTERM at grace - 1 s, SIGKILL at the grace (``begin_stop``, ``escalate``,
``reap_child``). A SIGTERM to the task's process sets ``SHUTDOWN`` (``stop_on_sigterm``).

This module never imports Locust; the child is a separate process because Locust's gevent
monkey-patching breaks Django and Celery's prefork pool.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings

from runs.core.engine import protocol
from runs.core.lifetime import die_with_parent_preexec

log = logging.getLogger(__name__)

# The heartbeat, which is also how a cancel (or the end of the run, for a generator) is noticed.
HEARTBEAT_SECONDS = 1.0
POLL_SECONDS = 0.1
STDERR_TAIL_LINES = 30
CHILD_MODULE = "runs.core.engine.child"

# Set by a SIGTERM delivered to the process running a run (see ``stop_on_sigterm``).
SHUTDOWN = threading.Event()

# What ``ChildIO.messages`` yields once the child's stdout is closed.
EOF = object()


# -- spawning ----------------------------------------------------------------------------------
def spawn_child() -> subprocess.Popen[bytes]:
    # Its own process group: a Ctrl-C or signal aimed at the worker's group does not hit
    # the child behind our back; the parent decides how it stops. The kernel kills it if this
    # process dies (runs.core.lifetime); tasks run on the pool process's main thread, which
    # lives as long as the process, so the signal does not fire early.
    return subprocess.Popen(
        [sys.executable, "-m", CHILD_MODULE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=str(settings.BASE_DIR),
        preexec_fn=die_with_parent_preexec(),
        process_group=0,
        close_fds=True,
    )


class ChildIO:
    """Reader threads for the child's stdout (parsed messages) and stderr (a tail for errors)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.messages: queue.Queue[Any] = queue.Queue()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self.bad_lines = 0
        assert proc.stdout is not None and proc.stderr is not None
        self._threads = [
            threading.Thread(
                target=self._read_stdout, args=(proc.stdout,), name="run-child-stdout", daemon=True
            ),
            threading.Thread(
                target=self._read_stderr, args=(proc.stderr,), name="run-child-stderr", daemon=True
            ),
        ]
        for thread in self._threads:
            thread.start()

    def _read_stdout(self, stream: IO[bytes]) -> None:
        for line in stream:
            try:
                self.messages.put(protocol.parse_line(line))
            except protocol.ProtocolError as exc:
                self.bad_lines += 1
                log.warning("bad line from the load generator: %s: %.200r", exc, line)
        self.messages.put(EOF)

    def _read_stderr(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode(errors="replace").rstrip()
            self.stderr_tail.append(line)
            log.debug("child: %s", line)

    def send(self, data: bytes) -> bool:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def close_stdin(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def join(self, timeout: float) -> None:
        for thread in self._threads:
            thread.join(timeout)

    def stderr_text(self) -> str:
        return "\n".join(self.stderr_tail)


# -- what every supervisor knows of its child ----------------------------------------------------
@dataclass
class ChildState:
    """One supervised child: how it ended (``done``, ``fatal``, ``eof``) and how far stopping
    it has gone. The run's parent extends it (``runs.engine.runner.Supervision``)."""

    run_id: int
    cap_seconds: float
    stop_grace: float
    started: float = field(default_factory=time.monotonic)
    stop_cause: str | None = None  # "cancel", "cap", "shutdown", "threshold", "stopped early", "run ended"
    stop_at: float | None = None
    sigterm_sent: bool = False
    sigkill_sent: bool = False
    done: protocol.DoneMessage | None = None
    fatal: protocol.FatalMessage | None = None
    eof: bool = False

    def note(self, item: Any) -> bool:
        """Take the end of the channel, ``done`` or ``fatal``; False for any other item."""
        if item is EOF:
            self.eof = True
        elif isinstance(item, protocol.DoneMessage):
            self.done = item
        elif isinstance(item, protocol.FatalMessage):
            self.fatal = item
        else:
            return False
        return True


def drain(io: ChildIO, handle: Callable[[Any], object], *, timeout: float) -> None:
    """Handle every message available, waiting up to ``timeout`` for the first."""
    try:
        item = io.messages.get(timeout=timeout)
    except queue.Empty:
        return
    while True:
        handle(item)
        try:
            item = io.messages.get_nowait()
        except queue.Empty:
            return


def drain_rest(io: ChildIO, handle: Callable[[Any], object]) -> None:
    """Handle what is queued, without waiting."""
    while True:
        try:
            handle(io.messages.get_nowait())
        except queue.Empty:
            return


# -- stopping ----------------------------------------------------------------------------------
def begin_stop(state: ChildState, io: ChildIO, cause: str) -> None:
    log.info("run %s: stopping the load generator (%s)", state.run_id, cause)
    state.stop_cause = cause
    state.stop_at = time.monotonic()
    io.send(protocol.encode_stop())
    io.close_stdin()


def escalate(state: ChildState, io: ChildIO, now: float) -> None:
    """stop command at 0, SIGTERM at grace - 1 s, SIGKILL at grace: load ends within the grace."""
    assert state.stop_at is not None
    waited = now - state.stop_at
    if not state.sigterm_sent and waited >= max(0.0, state.stop_grace - 1.0):
        state.sigterm_sent = True
        io.signal(signal.SIGTERM)
    if not state.sigkill_sent and waited >= state.stop_grace:
        state.sigkill_sent = True
        log.warning(
            "run %s: the load generator did not stop in %.0f s; killing it", state.run_id, state.stop_grace
        )
        io.signal(signal.SIGKILL)


def reap_child(io: ChildIO, stop_grace: float) -> int | None:
    """Make sure the child is gone (it normally is) and its output fully read."""
    proc = io.proc
    io.close_stdin()  # EOF: a child still running stops
    try:
        proc.wait(timeout=stop_grace)
    except subprocess.TimeoutExpired:
        io.signal(signal.SIGKILL)
        proc.wait(timeout=10)
    io.join(timeout=5)
    for stream in (proc.stdout, proc.stderr):
        with contextlib.suppress(OSError):
            stream and stream.close()
    return proc.returncode


def run_cap_seconds(planned_seconds: float) -> float:
    """Wall time a run may take from spawn to exit: planned + grace, never above the maximum."""
    return float(
        min(planned_seconds + settings.SCALETEST_RUN_GRACE_SECONDS, settings.SCALETEST_MAX_RUN_SECONDS)
    )


def child_stop_timeout(stop_grace: float) -> float:
    """The ``stop_timeout`` engine option: users get until a little before SIGTERM to finish
    their current request."""
    return max(0.5, stop_grace - 1.5)


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """While a run executes, SIGTERM to this process stops the run cleanly instead of killing it.

    Celery's prefork children reset SIGTERM to its default (die at once), which would leave
    the run ``running`` for the reaper. Outside the main thread signals cannot be handled;
    the worker's ``worker_shutting_down`` hook (runs.tasks) covers that case.
    """
    SHUTDOWN.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: SHUTDOWN.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
