"""The child process itself, whatever the mode: the channel out, stopping, the per-second clock.

Each mode (``local``, ``distributed``) runs on a :class:`Child` and tells it how to count the
running users and how to drop in-flight requests (``users``, ``kill_in_flight``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
import locust

from runs.core.engine import protocol
from runs.core.engine.child.recorder import CpuMeter, Recorder

log = logging.getLogger("scaletest.child")


class Child:
    def __init__(self, out_fd: int) -> None:
        self.out_fd = out_fd
        self.recorder = Recorder()
        self.cpu = CpuMeter()
        self.stop_event = gevent.event.Event()
        self.stop_reason = "finished"
        self.next_second = 0
        self.signals = 0
        # Set by the mode: the ``users`` figure of a second, and how a second SIGTERM drops
        # the requests in flight.
        self.users: Callable[[], int] = lambda: 0
        self.kill_in_flight: Callable[[], None] = lambda: None
        # Worker mode: seconds wait here for the next report to the master instead of stdout.
        self.outbox: list[protocol.SecondPayload] | None = None
        # Live control (``set`` commands): set by the modes that can change their level
        # (``runs.core.engine.child.control``); returns (applied, why not, epoch applied).
        self.on_set: Callable[[protocol.SetCommand], tuple[bool, str, float]] = _cannot_set

    # output
    def send(self, line: bytes) -> None:
        view = memoryview(line)
        while view:
            written = os.write(self.out_fd, view)
            view = view[written:]

    def send_hello(self, start_epoch: int) -> None:
        self.send(protocol.encode(protocol.HelloMessage(locust.__version__, os.getpid(), start_epoch)))

    def send_second(self, second: int, cpu_percent: float | None) -> None:
        message = self.recorder.pop_second(second, users=self.users(), cpu_percent=cpu_percent)
        if self.outbox is not None:
            self.outbox.append(message)
            return
        self.send(protocol.encode_second(message))

    # stopping
    def request_stop(self, reason: str) -> None:
        if not self.stop_event.is_set():
            self.stop_reason = reason
            self.stop_event.set()

    def on_sigterm(self) -> None:
        self.signals += 1
        self.request_stop("signal")
        if self.signals > 1:
            # Second SIGTERM: do not wait for in-flight requests any longer.
            self.kill_in_flight()

    def read_commands(self, stdin: Any) -> None:
        while True:
            line = stdin.readline()
            if not line:
                self.request_stop("eof")
                return
            try:
                command = protocol.parse_command(line)
            except protocol.ProtocolError as exc:
                log.warning("ignoring command line: %s", exc)
                continue
            if isinstance(command, protocol.SetCommand):
                self.apply_set(command)
                continue
            self.request_stop("stopped")

    def apply_set(self, command: protocol.SetCommand) -> None:
        """Take a new level and say when (or why not): the parent records the time."""
        if self.stop_event.is_set():
            applied, message, epoch = False, "the run was already stopping", time.time()
        else:
            try:
                applied, message, epoch = self.on_set(command)
            except Exception as exc:  # noqa: BLE001 - a bad change must not end the run
                log.exception("live control failed")
                applied, message, epoch = False, f"{type(exc).__name__}: {exc}", time.time()
        self.send(protocol.encode(protocol.ControlMessage(command.id, epoch, applied, message[:500])))

    # the per-second clock
    def first_second(self) -> int:
        """Load starts on the next whole second, so every t of the run is a full second of load."""
        self.next_second = int(time.time()) + 1
        return self.next_second

    def hello_and_wait(self, start: int) -> None:
        """Say ``hello`` with the first second and sleep until it begins."""
        self.send_hello(start)
        gevent.sleep(max(0.0, start - time.time()))
        self.cpu.percent()

    def emit_loop(self) -> None:
        while True:
            now = time.time()
            gevent.sleep(max(0.0, int(now) + 1 - now) + 0.005)
            self.emit_completed(int(time.time()))

    def emit_completed(self, current: int) -> None:
        # One CPU sample covers the time since the previous one; seconds sent together share it.
        cpu = self.cpu.percent()
        for second in self.recorder.pending_before(self.next_second):
            self.send_second(second, None)  # a clock step put results into an already-sent second
        while self.next_second < current:
            self.send_second(self.next_second, cpu)
            self.next_second += 1


def _cannot_set(command: protocol.SetCommand) -> tuple[bool, str, float]:
    return (
        False,
        "this run cannot change its load while it runs (distributed, or not a constant profile)",
        time.time(),
    )
