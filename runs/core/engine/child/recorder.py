"""Measurement: per-second, per-endpoint counts and exact histograms, error groups, CPU."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from locust.env import Environment

from runs.core.engine import protocol
from runs.core.engine.child.expect import EXPECT_KEY
from runs.core.histogram import Histogram

MAX_MESSAGE = protocol.MAX_ERROR_MESSAGE


class _Endpoint:
    __slots__ = ("requests", "failures", "bytes", "hist")

    def __init__(self) -> None:
        self.requests = 0
        self.failures = 0
        self.bytes = 0
        self.hist = Histogram()


class Recorder:
    """Per-second, per-endpoint measurements, keyed by the wall-clock second of completion.

    ``on_request`` is the hot path (one call per request): a couple of dict lookups and a
    histogram increment, no allocation once an endpoint has been seen in the current second.
    """

    def __init__(self) -> None:
        # second → {(method, name) → _Endpoint}
        self.seconds: dict[int, dict[tuple[str, str], _Endpoint]] = {}
        # second → {(method, name, error class, message) → count}
        self.errors: dict[int, dict[tuple[str, str, str, str], int]] = {}
        # second → iterations due then that the in-flight cap kept from starting (open model)
        self.dropped: dict[int, int] = {}
        # Called with each second as it is closed, before it is sent: (second, endpoints,
        # error groups, dropped). A capacity search decides its steps from these.
        self.second_listeners: list[Callable[[int, dict[Any, Any], dict[Any, int], int], None]] = []

    def on_dropped(self, second: int) -> None:
        self.dropped[second] = self.dropped.get(second, 0) + 1

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        response_length: int | None,
        exception: BaseException | None = None,
        context: dict[str, Any] | None = None,
        response: Any = None,
        **_: Any,
    ) -> None:
        if context:
            expect = context.get(EXPECT_KEY)
            if expect is not None:
                exception = expect.judge(response, exception)
        second = int(time.time())
        endpoints = self.seconds.get(second)
        if endpoints is None:
            endpoints = self.seconds[second] = {}
        key = (request_type, name)
        ep = endpoints.get(key)
        if ep is None:
            ep = endpoints[key] = _Endpoint()
        ep.requests += 1
        if response_length:
            ep.bytes += response_length
        ep.hist.record_us(int((response_time or 0.0) * 1000.0 + 0.5))
        if exception is not None:
            ep.failures += 1
            self._error(second, request_type, name, exception)

    def _error(self, second: int, method: str, name: str, exception: BaseException | str) -> None:
        groups = self.errors.get(second)
        if groups is None:
            groups = self.errors[second] = {}
        message = str(exception) if not isinstance(exception, str) else exception
        error_class = type(exception).__name__ if not isinstance(exception, str) else "Error"
        key = (method, name, error_class[:200], message[:MAX_MESSAGE])
        groups[key] = groups.get(key, 0) + 1

    def pop_second(self, second: int, *, users: int, cpu_percent: float | None) -> protocol.SecondPayload:
        """The ``second`` message for ``second`` (empty when nothing completed in it)."""
        endpoints = self.seconds.pop(second, {})
        errors = self.errors.pop(second, {})
        for listener in self.second_listeners:
            listener(second, endpoints, errors, self.dropped.get(second, 0))
        return {
            "type": "second",
            "epoch": second,
            "users": users,
            "cpu_percent": cpu_percent,
            "dropped_iterations": self.dropped.pop(second, 0),
            "endpoints": [
                {
                    "method": method,
                    "name": name,
                    "requests": ep.requests,
                    "failures": ep.failures,
                    "bytes": ep.bytes,
                    "histogram": ep.hist.to_dict(),
                }
                for (method, name), ep in endpoints.items()
            ],
            "errors": [
                {"method": m, "name": n, "error_class": c, "message": msg, "count": count}
                for (m, n, c, msg), count in errors.items()
            ],
        }

    def pending_before(self, second: int) -> list[int]:
        """Seconds still held that are earlier than ``second`` (stragglers after a clock step)."""
        return sorted(s for s in set(self.seconds) | set(self.errors) | set(self.dropped) if s < second)


class CpuMeter:
    """This process's CPU use between two calls, in percent of one core."""

    def __init__(self) -> None:
        self._last = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float]:
        t = os.times()
        return t.user + t.system, time.monotonic()

    def percent(self) -> float:
        cpu, wall = self._sample()
        last_cpu, last_wall = self._last
        self._last = (cpu, wall)
        elapsed = wall - last_wall
        return round(max(0.0, (cpu - last_cpu) / elapsed * 100.0), 1) if elapsed > 0 else 0.0


def drop_locust_stats(env: Environment) -> None:
    """Unhook Locust's own RequestStats: our exact histograms replace them, and every request
    would otherwise be counted twice on the one core the load runs on."""
    for handler in list(env.events.request._handlers):
        if getattr(handler, "__qualname__", "").startswith("Runner.__init__"):
            env.events.request.remove_listener(handler)
