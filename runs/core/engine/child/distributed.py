"""Distributed runs on Locust's own master/worker mode over ZeroMQ.

The master (:func:`run_master`) makes no requests: it waits for the run's generators, drives
them with the profile's shape and merges the exact per-second measurements each worker
(:func:`run_worker`) attaches to Locust's ``report_to_master`` data instead of Locust's own
stats (``runs.core.engine.merge``); it writes them as ordinary ``second`` messages. A worker
writes no seconds to its parent, only ``done`` or ``fatal``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent
import locust
from locust import User
from locust import runners as locust_runners
from locust.env import Environment
from locust.rpc import Message
from locust.runners import (
    STATE_INIT,
    STATE_MISSING,
    STATE_RUNNING,
    STATE_SPAWNING,
    STATE_STOPPED,
    STATE_STOPPING,
    MasterRunner,
)

from runs.core import profiles
from runs.core.engine import merge, pinning, protocol
from runs.core.engine.child.process import Child
from runs.core.engine.child.recorder import drop_locust_stats
from runs.core.engine.child.shapes import ProfileShape

log = logging.getLogger("scaletest.child")


class GeneratorsMissing(RuntimeError):
    """Not every generator of a distributed run joined the master in time."""


class GeneratorLost(RuntimeError):
    """A generator left a distributed run while it was going on."""


# -- master ------------------------------------------------------------------------------------
def run_master(
    child: Child,
    plan: profiles.Plan,
    user_classes: list[type[User]],
    options: protocol.MasterOptions,
    *,
    locustfile: bool,
) -> str:
    """Drive ``generators`` Locust workers with the shape; merge and send their seconds."""
    expected = options.generators
    env = Environment(
        user_classes=user_classes,
        shape_class=ProfileShape(plan),
        stop_timeout=options.stop_timeout,
        catch_exceptions=True,
        events=locust.events if locustfile else None,
    )
    runner = env.create_master_runner(options.bind_host, 0)
    merger: merge.SecondMerger | None = None
    indexes: dict[str, int] = {}  # Locust client id -> our generator index
    lost = ""  # why the run lost a generator

    def on_worker_report(client_id: str, data: dict[str, Any]) -> None:
        if merger is None:
            return
        try:
            report = protocol.parse_worker_report(data)
            if report is None:
                return
            indexes[client_id] = report["index"]
            merger.add(report["index"], report["seconds"], through=report["through"])
        except (KeyError, TypeError, ValueError) as exc:  # ProtocolError, or a second merge cannot read
            log.warning("bad report from generator %s: %s", client_id, exc)

    def lose(client_id: str, index: int | None, start: int, *, missing: bool) -> None:
        nonlocal lost
        host = client_id.rsplit("_", 1)[0]
        which = f"generator {index} ({host})" if index is not None else f"a generator ({host})"
        how = "stopped sending heartbeats" if missing else "left the run"
        lost = (
            f"{which} {how} at t={max(0, int(time.time()) - start)} s. The run was stopped, since the "
            "remaining generators cannot produce the planned load; the results measured until then are kept."
        )
        log.error("%s", lost)
        child.request_stop("stopped")

    env.events.worker_report.add_listener(on_worker_report)
    env.events.test_stop.add_listener(lambda **_: child.request_stop("finished"))
    child.send(protocol.encode(protocol.MasterMessage(port=runner.server.port)))

    deadline = time.monotonic() + options.join_timeout
    while len(runner.clients.ready) < expected and not child.stop_event.is_set():
        if time.monotonic() > deadline:
            joined = len(runner.clients.ready)
            runner.quit()
            raise GeneratorsMissing(
                f"only {joined} of {expected} generators joined within {options.join_timeout:.0f} s; "
                "no load was sent. Check that a worker consumes the generator queue and can reach the "
                "master's port."
            )
        gevent.sleep(0.1)
    if child.stop_event.is_set():  # cancelled while waiting: no load at all
        runner.quit()
        return child.stop_reason
    members = list(runner.clients)
    start = int(time.time()) + 1
    merger = merge.SecondMerger(expected, start=start)
    child.hello_and_wait(start)
    runner.start_shape()

    def watch() -> None:
        assert merger is not None
        while True:
            gevent.sleep(0.25)
            if runner.state in (STATE_RUNNING, STATE_SPAWNING) and not child.stop_event.is_set():
                for client_id in members:
                    node = runner.clients.get(client_id)
                    if node is None or node.state == STATE_MISSING:
                        lose(client_id, indexes.get(client_id), start, missing=node is not None)
                        break
            for message in merger.ready(now=int(time.time())):
                child.send(protocol.encode_second(message))

    watcher = gevent.spawn(watch)
    child.stop_event.wait()
    if runner.state not in (STATE_STOPPED,):
        _stop_workers(runner, members, timeout=options.stop_timeout + 1.0)
    watcher.kill(block=True)
    for message in merger.flush(until=int(time.time()) + 1):
        child.send(protocol.encode_second(message))
    runner.quit()
    if lost:
        raise GeneratorLost(lost)
    return child.stop_reason


def _stop_workers(runner: MasterRunner, members: list[str], *, timeout: float) -> None:
    """Stop the workers and wait until each has reported it stopped (its last seconds come
    before that report), polling finely: MasterRunner.stop polls once a second, which a cancel,
    whose grace is a few seconds, cannot afford."""
    # As MasterRunner.stop does first: out of "running" and without a shape or a dispatcher,
    # the master does not hand a stopped worker's users to the others (which would send
    # requests after their last report).
    runner.environment.events.test_stopping.fire(environment=runner.environment)
    runner.update_state(STATE_STOPPING)
    if runner.shape_greenlet is not None:
        runner.shape_greenlet.kill(block=True)
        runner.shape_greenlet = None
        runner.shape_last_tick = None
    runner._users_dispatcher = None
    for client_id in members:
        if runner.clients.get(client_id) is not None:
            runner.server.send_to_client(Message("stop", None, client_id))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        nodes = [runner.clients.get(client_id) for client_id in members]
        # A stopped worker is removed, then comes back as a fresh node in state "ready".
        if all(node is None or node.state in (STATE_INIT, STATE_MISSING) for node in nodes):
            break
        gevent.sleep(0.05)
    runner.update_state(STATE_STOPPED)


# -- worker ------------------------------------------------------------------------------------
def run_worker(
    child: Child, user_classes: list[type[User]], options: protocol.WorkerOptions, *, locustfile: bool
) -> str:
    """Make load for the master at ``master_host:master_port``; report seconds to it."""
    # Seconds reach the master every second (Locust's default is 3 s); a master silent for
    # master_timeout seconds is gone, and the worker quits instead of waiting Locust's 60 s.
    locust_runners.WORKER_REPORT_INTERVAL = 1.0
    locust_runners.MASTER_HEARTBEAT_TIMEOUT = options.master_timeout
    child.outbox = []
    env = Environment(
        user_classes=user_classes,
        stop_timeout=options.stop_timeout,
        catch_exceptions=True,
        events=locust.events if locustfile else None,
    )
    runner = env.create_worker_runner(options.master_host, options.master_port)
    child.users = lambda: runner.user_count
    child.kill_in_flight = lambda: runner.user_greenlets.kill(block=False)
    # Connect only to the address the parent checked, once connected to the master.
    pinning.install(options.pin.to_dict() if options.pin is not None else None)
    drop_locust_stats(env)
    env.events.request.add_listener(child.recorder.on_request)
    started = False

    def on_test_start(**_: Any) -> None:
        nonlocal started
        if not started:
            started = True
            child.next_second = int(time.time())
            child.cpu.percent()

    def on_test_stop(**_: Any) -> None:
        # Every user has stopped: close the last, partial second and send it before Locust
        # tells the master this worker stopped (same ZeroMQ socket, so it arrives first).
        if started:
            child.emit_completed(int(time.time()) + 1)
            runner._send_stats()

    def on_report(client_id: str, data: dict[str, Any]) -> None:
        if started:
            child.emit_completed(int(time.time()))
        seconds, child.outbox = child.outbox or [], []
        report: protocol.WorkerReport = {
            "index": options.index,
            "through": child.next_second if started else None,
            "seconds": seconds,
        }
        data[protocol.REPORT_KEY] = report

    env.events.test_start.add_listener(on_test_start)
    env.events.test_stop.add_listener(on_test_stop)
    env.events.report_to_master.add_listener(on_report)

    def on_master_gone() -> None:
        # The master's quit (or a silent master) kills the runner's greenlets: the run is over.
        runner.greenlet.join()
        child.request_stop("finished")

    gevent.spawn(on_master_gone)
    child.stop_event.wait()
    if len(runner.greenlet):
        # Stopped from our side (the generator task, SIGTERM): tell the master we left.
        runner.stop()
        env.events.quitting.fire(environment=env, reverse=True)
        runner.greenlet.kill(block=True, timeout=2.0)
    return child.stop_reason
