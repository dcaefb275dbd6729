"""The supervisor behind ``manage.py up``: keep a few long-lived processes running.

Each ``Program`` is started in a session of its own (so a Ctrl-C in the terminal reaches only
the supervisor, which decides how everything stops) and with a parent-death signal (so it dies
with the supervisor, however the supervisor dies: ``runs.core.lifetime``). When one exits while
nothing asked it to, the supervisor

1. kills what is left of its process group (a straggler of the dead process: belt and braces
   beside the parent-death signals further down the tree),
2. says so and waits (1 s, then 2, 4, ... up to ``max_delay``; a process that stayed up for
   ``stable_after`` seconds starts again from 1 s),
3. starts it again,

and gives up, stopping everything, when one fails ``give_up_after`` times in a row without
staying up (a port already taken, a broken configuration: restarting forever would hide it).
SIGINT, SIGTERM and SIGHUP stop everything: SIGTERM to each program, then SIGKILL to the
process group of any still running after ``stop_timeout``.

The loop runs on the main thread, which spawns every program: the parent-death signal fires
when the *thread* that forked the child exits, so no program is started from a helper thread.
No Django here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

from runs.core.lifetime import die_with_parent_preexec

POLL_SECONDS = 0.2


@dataclass(frozen=True)
class RestartPolicy:
    first_delay: float = 1.0
    max_delay: float = 30.0
    # A process that ran this long was healthy: its next crash waits first_delay again.
    stable_after: float = 60.0
    # Failures in a row, each within stable_after of its start, after which we stop trying: with
    # the delays above that is about a minute and a half of attempts (1+2+4+8+16+30+30 s).
    give_up_after: int = 8


@dataclass
class Backoff:
    """Delay before the next start of one program, from how long its last start lasted."""

    policy: RestartPolicy = field(default_factory=RestartPolicy)
    failures: int = 0

    def after_exit(self, ran_for: float) -> float | None:
        """Seconds to wait before restarting, or None to give up."""
        if ran_for >= self.policy.stable_after:
            self.failures = 0
        self.failures += 1
        if self.failures >= self.policy.give_up_after:
            return None
        return float(min(self.policy.first_delay * 2 ** (self.failures - 1), self.policy.max_delay))


def describe_exit(returncode: int) -> str:
    """``-9 (SIGKILL)`` for a signal, ``code 1`` for an exit status."""
    if returncode < 0:
        try:
            return f"{returncode} ({signal.Signals(-returncode).name})"
        except ValueError:
            return f"{returncode} (signal {-returncode})"
    return f"code {returncode}"


@dataclass
class Program:
    name: str
    argv: list[str]
    cwd: str | None = None
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    backoff: Backoff = field(default_factory=Backoff)


def _kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class Supervisor:
    def __init__(
        self,
        programs: list[Program],
        *,
        log: Callable[[str], None],
        policy: RestartPolicy | None = None,
        stop_timeout: float = 15.0,
    ) -> None:
        self.programs = programs
        self.log = log
        self.stop_timeout = stop_timeout
        for program in programs:
            program.backoff = Backoff(policy or RestartPolicy())
        self._stop_requested = False

    # -- starting ------------------------------------------------------------------------------
    def start(self, program: Program) -> None:
        program.proc = subprocess.Popen(
            program.argv,
            cwd=program.cwd,
            env=program.env,
            start_new_session=True,
            preexec_fn=die_with_parent_preexec(),
        )
        program.started_at = time.monotonic()
        program.restart_at = None

    def start_all(self) -> None:
        for program in self.programs:
            self.start(program)

    # -- the loop ------------------------------------------------------------------------------
    def request_stop(self, *_: object) -> None:
        self._stop_requested = True

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.request_stop()

    def run(self) -> str | None:
        """Supervise until asked to stop (returns None) or a program keeps failing (returns why).

        Everything is stopped either way before it returns.
        """
        failure: str | None = None
        while not self._stop_requested and failure is None:
            now = time.monotonic()
            for program in self.programs:
                if program.proc is not None and program.proc.poll() is not None:
                    failure = self._exited(program, now)
                    if failure is not None:
                        break
                elif program.proc is None and program.restart_at is not None and now >= program.restart_at:
                    self.start(program)
                    assert program.proc is not None
                    self.log(f"{program.name} restarted (pid {program.proc.pid})")
            time.sleep(POLL_SECONDS)
        self.stop_all()
        return failure

    def _exited(self, program: Program, now: float) -> str | None:
        assert program.proc is not None
        returncode = program.proc.returncode
        # The leader is gone; anything still in its group was started by it and is now an orphan.
        _kill_group(program.proc.pid)
        program.proc = None
        ran_for = now - program.started_at
        delay = program.backoff.after_exit(ran_for)
        if delay is None:
            return (
                f"the {program.name} exited with {describe_exit(returncode)}, "
                f"{program.backoff.failures} times in a row"
            )
        self.log(f"{program.name} exited with {describe_exit(returncode)}; restarting in {delay:g} s")
        program.restart_at = now + delay
        return None

    # -- stopping ------------------------------------------------------------------------------
    def stop_all(self) -> None:
        running = [p for p in self.programs if p.proc is not None and p.proc.poll() is None]
        for program in running:
            assert program.proc is not None
            with contextlib.suppress(ProcessLookupError):
                program.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for program in running:
            assert program.proc is not None
            try:
                program.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.log(f"{program.name} did not stop within {self.stop_timeout:g} s; killing it")
                _kill_group(program.proc.pid)
                program.proc.wait()
        for program in self.programs:
            if program.proc is not None:
                _kill_group(program.proc.pid)  # stragglers of a leader that exited
                program.proc = None
            program.restart_at = None
