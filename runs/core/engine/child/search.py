"""Capacity-search profiles in the child: the load of each step is decided from the recorder's
exact per-second histograms (``runs.core.capacity_search``), never from Locust's statistics.

:class:`SearchDriver` listens to every second the recorder closes, feeds it to the search and
sends each decision to the parent as a ``search`` message. :class:`SearchShape` (closed model)
and :class:`SearchOpenLoad` (open model) apply the load the search asks for and end the run when
the search ends.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent
from locust import LoadTestShape, User
from locust.env import Environment

from runs.core import capacity_search, profiles
from runs.core.engine import protocol
from runs.core.engine.child.local import drive_closed, drive_open
from runs.core.engine.child.process import Child
from runs.core.engine.child.shapes import OpenLoad

log = logging.getLogger("scaletest.child")


class SearchDriver:
    def __init__(self, child: Child, config: capacity_search.SearchConfig, *, start: int) -> None:
        self.child = child
        self.search = capacity_search.CapacitySearch(config)
        self.start = start
        self.ended_sent = False
        child.recorder.second_listeners.append(self.on_second)

    def on_second(self, second: int, endpoints: dict[Any, Any], errors: dict[Any, int], dropped: int) -> None:
        samples = {
            key: capacity_search.EndpointSample(ep.requests, ep.failures, ep.hist)
            for key, ep in endpoints.items()
        }
        groups: dict[str, int] = {}
        for (_method, _name, error_class, message), count in errors.items():
            text = f"{error_class}: {message}"[:200]
            groups[text] = groups.get(text, 0) + count
        decision = self.search.feed(second - self.start, samples, dropped=dropped, errors=groups)
        if decision is not None:
            self.send(decision)

    def applied(self) -> None:
        """The load changed now: judge from the next whole second on."""
        self.search.applied(int(time.time()) + 1 - self.start)

    def send(self, decision: capacity_search.Decision | None) -> None:
        outcome = self.search.outcome
        if outcome is not None:
            self.ended_sent = True
            log.info("capacity search ended: %s", outcome.message)
        self.child.send(
            protocol.encode(
                protocol.SearchMessage(
                    decision.to_dict() if decision is not None else None,
                    outcome.to_dict() if outcome is not None else None,
                )
            )
        )

    def finish(self) -> None:
        """The load stopped (all seconds sent): a search still going ends as stopped, with the
        step it was in decided on what it measured (or no decision when nothing was judged)."""
        if self.ended_sent:
            return
        self.send(self.search.stop(int(time.time()) - self.start))


class SearchShape(LoadTestShape):
    """Closed model: the user count the search asks for; None (stop) once it has ended."""

    def __init__(self, driver: SearchDriver) -> None:
        super().__init__()
        self.driver = driver
        self.current: int | None = None

    def tick(self) -> tuple[int, float] | None:
        search = self.driver.search
        if search.done:
            return None
        users = int(search.load)
        if users != self.current:
            self.current = users
            self.driver.applied()
        # Fast enough that a step's users are all running within a fraction of a second.
        return users, max(50.0, 10.0 * users)


class SearchOpenLoad(OpenLoad):
    """Open model: iterations started at the rate the search asks for, evenly spaced."""

    def __init__(
        self, env: Environment, user_class: type[Any], plan: profiles.Plan, driver: SearchDriver
    ) -> None:
        super().__init__(env, user_class, plan, driver.child.recorder, start=driver.start)
        self.driver = driver

    def dispatch(self) -> None:
        search = self.driver.search
        due = time.monotonic()
        current: float | None = None
        while not search.done:
            rate = search.load
            if rate != current:
                current = rate
                self.driver.applied()
            delay = due - time.monotonic()
            if delay > 0:
                gevent.sleep(delay)
            if search.done:
                break
            if self.pool.full():
                self.dropped += 1
                self.recorder.on_dropped(int(time.time()))
            else:
                self.max_lag = max(self.max_lag, time.monotonic() - due)
                self.pool.spawn(self.iteration)
                self.started += 1
                self.peak = max(self.peak, len(self.pool))
            due += 1.0 / rate


def run_search(
    child: Child,
    kind: str,
    params: dict[str, Any],
    plan: profiles.Plan,
    user_classes: list[type[User]],
    options: protocol.LocalOptions,
    *,
    locustfile: bool,
) -> str:
    config = capacity_search.config_from_params(params, open_model=plan.is_open)
    start = child.first_second()
    driver = SearchDriver(child, config, start=start)
    if plan.is_open:
        env = Environment(user_classes=[user_classes[0]], catch_exceptions=True)
        env.events.request.add_listener(child.recorder.on_request)
        reason = drive_open(child, SearchOpenLoad(env, user_classes[0], plan, driver), options, start=start)
    else:
        reason = drive_closed(
            child, SearchShape(driver), user_classes, options, locustfile=locustfile, start=start
        )
    driver.finish()
    return reason
