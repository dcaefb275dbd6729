"""The one-process modes: users on Locust's runner (closed model) or iterations on a schedule
(open model, arrival rate)."""

from __future__ import annotations

import time
from collections.abc import Callable

import gevent
import locust
from locust import LoadTestShape, User
from locust.env import Environment
from locust.runners import STATE_STOPPED

from runs.core import control, profiles
from runs.core.engine import protocol
from runs.core.engine.child.control import ControlledOpenLoad, closed_control, open_control
from runs.core.engine.child.process import Child
from runs.core.engine.child.recorder import drop_locust_stats
from runs.core.engine.child.shapes import OpenLoad, ProfileShape


def run_closed(
    child: Child,
    plan: profiles.Plan,
    user_classes: list[type[User]],
    options: protocol.LocalOptions,
    *,
    locustfile: bool,
) -> str:
    """A user profile: Locust's LocalRunner, driven by :class:`ProfileShape`."""
    shape = ProfileShape(plan)
    start = child.first_second()
    on_set = closed_control(shape, plan, start=start) if control.is_controllable_plan(plan) else None
    return drive_closed(
        child, shape, user_classes, options, locustfile=locustfile, start=start, on_set=on_set
    )


def drive_closed(
    child: Child,
    shape: LoadTestShape,
    user_classes: list[type[User]],
    options: protocol.LocalOptions,
    *,
    locustfile: bool,
    start: int,
    on_set: Callable[[protocol.SetCommand], tuple[bool, str, float]] | None = None,
) -> str:
    """Users on Locust's LocalRunner driven by ``shape`` (a profile's, or a capacity search's),
    from the hello to the last second sent; ``on_set`` takes live changes."""
    env = Environment(
        user_classes=user_classes,
        shape_class=shape,
        stop_timeout=options.stop_timeout,
        catch_exceptions=True,
        # A locustfile's hooks (``@events.init.add_listener``...) use Locust's global events.
        events=locust.events if locustfile else None,
    )
    runner = env.create_local_runner()
    child.users = lambda: runner.user_count
    child.kill_in_flight = lambda: runner.user_greenlets.kill(block=False)
    drop_locust_stats(env)
    if locustfile:
        env.events.init.fire(environment=env, runner=runner, web_ui=None)
    env.events.request.add_listener(child.recorder.on_request)
    env.events.test_stop.add_listener(lambda **_: child.request_stop("finished"))
    if on_set is not None:
        child.on_set = on_set
    child.hello_and_wait(start)
    if not child.stop_event.is_set():  # a stop that came during start-up sends no load at all
        runner.start_shape()
    emitter = gevent.spawn(child.emit_loop)
    child.stop_event.wait()
    if runner.state != STATE_STOPPED:
        runner.stop()
    emitter.kill(block=True)
    # The partial last second too: nothing measured is dropped.
    child.emit_completed(int(time.time()) + 1)
    return child.stop_reason


def run_open(
    child: Child, plan: profiles.Plan, user_class: type[User], options: protocol.LocalOptions
) -> str:
    """An arrival-rate profile: no Locust runner, :class:`OpenLoad` starts the iterations."""
    env = Environment(user_classes=[user_class], catch_exceptions=True)
    env.events.request.add_listener(child.recorder.on_request)
    start = child.first_second()
    load = ControlledOpenLoad(env, user_class, plan, child.recorder, start=start)
    if control.is_controllable_plan(plan):
        child.on_set = open_control(load, plan, start=start)
    return drive_open(child, load, options, start=start)


def drive_open(child: Child, load: OpenLoad, options: protocol.LocalOptions, *, start: int) -> str:
    """Iterations started by ``load`` (a profile's schedule, or a capacity search's), from the
    hello to the last second sent."""
    child.users = load.take_peak
    child.kill_in_flight = lambda: load.pool.kill(block=False)
    child.hello_and_wait(start)
    if not child.stop_event.is_set():
        load.dispatcher = gevent.spawn(load.dispatch)
        load.dispatcher.link_value(lambda _: child.request_stop("finished"))
    emitter = gevent.spawn(child.emit_loop)
    child.stop_event.wait()
    load.stop(options.stop_timeout)
    emitter.kill(block=True)
    child.emit_completed(int(time.time()) + 1)
    return child.stop_reason
