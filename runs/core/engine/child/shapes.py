"""The load over time: :class:`ProfileShape` drives Locust's runner (closed model, users) from
the same profile math as the preview chart; :class:`OpenLoad` starts iterations on the
plan's schedule (open model, arrival rate), which Locust lacks."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

import gevent
import gevent.pool
from locust import LoadTestShape
from locust.env import Environment

from runs.core import profiles
from runs.core.engine.child.recorder import Recorder

log = logging.getLogger("scaletest.child")


class ProfileShape(LoadTestShape):
    """Drives Locust from the same profile math as the preview chart."""

    def __init__(self, plan: profiles.Plan) -> None:
        super().__init__()
        self.plan = plan

    def tick(self) -> tuple[int, float] | None:
        return profiles.shape_tick(self.plan, self.get_run_time())


class OpenLoad:
    """Starts iterations on the plan's schedule, whatever the response times (open model).

    A dispatcher greenlet sleeps until each due time of ``profiles.start_offsets`` and starts
    one iteration (one weighted scenario step, no think time) in a greenlet of a pool of
    ``max_in_flight``. When the pool is full at a due time the iteration is not started and
    is counted as dropped in the second it was due, as k6 does; it is never queued, which
    would hide the overload. Each running iteration has a user (and so a client with its own
    connection) to itself, so the client is never the hidden limit. Latency is measured from
    the actual send by Locust's clients; how late the dispatcher started an iteration is
    tracked in ``max_lag`` and logged.
    """

    def __init__(
        self, env: Environment, user_class: type[Any], plan: profiles.Plan, recorder: Recorder, *, start: int
    ) -> None:
        assert plan.max_in_flight is not None
        self.env = env
        self.user_class = user_class
        self.plan = plan
        self.recorder = recorder
        self.start = start  # the wall-clock second at which t = 0
        self.pool = gevent.pool.Pool(plan.max_in_flight)
        self.tasks: list[Callable[[Any], None]] = list(user_class.tasks)  # expanded by weight
        self.idle: list[Any] = []
        self.users_created = 0
        self.started = 0
        self.dropped = 0
        self.peak = 0  # most iterations in flight since the last ``take_peak``
        self.max_lag = 0.0
        self.dispatcher: gevent.Greenlet | None = None

    def take_peak(self) -> int:
        peak, self.peak = self.peak, len(self.pool)
        return max(peak, self.peak)

    def dispatch(self) -> None:
        # Wall-clock second ``start`` on the monotonic clock, taken at one instant.
        origin = time.monotonic() + (self.start - time.time())
        for offset in profiles.start_offsets(self.plan):
            due = origin + offset
            delay = due - time.monotonic()
            if delay > 0:
                gevent.sleep(delay)
            if self.pool.full():
                self.dropped += 1
                self.recorder.on_dropped(self.start + int(offset))
                continue
            self.max_lag = max(self.max_lag, time.monotonic() - due)
            self.pool.spawn(self.iteration)
            self.started += 1
            self.peak = max(self.peak, len(self.pool))
        # The last iterations are due before the end; the load lasts the planned duration.
        gevent.sleep(max(0.0, origin + self.plan.duration - time.monotonic()))

    def iteration(self) -> None:
        user = self.idle.pop() if self.idle else self._new_user()
        try:
            random.choice(self.tasks)(user)
        except Exception as exc:  # noqa: BLE001 - as Locust's catch_exceptions: log, keep going
            log.warning("iteration failed: %s: %s", type(exc).__name__, exc)
        self.idle.append(user)

    def _new_user(self) -> Any:
        user = self.user_class(self.env)
        user.on_start()
        self.users_created += 1
        return user

    def stop(self, timeout: float) -> None:
        """Start nothing more; give in-flight iterations ``timeout`` seconds, then kill them."""
        if self.dispatcher is not None:
            self.dispatcher.kill(block=True)
        if not self.pool.join(timeout=timeout):
            self.pool.kill(block=True, timeout=1.0)
        log.info(
            "open model: %d iterations started, %d dropped, %d clients, dispatcher lag up to %.1f ms",
            self.started,
            self.dropped,
            self.users_created,
            self.max_lag * 1000.0,
        )
        if self.max_lag > 0.1:
            log.warning("the load generator started iterations up to %.0f ms late", self.max_lag * 1000.0)
