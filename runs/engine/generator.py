"""One load generator of a distributed run, executed inside a Celery task on the generator queue.

The run's own task (``runs.engine.runner``) starts the Locust child as a master and sends one
``run_generator`` task per generator. Each runs the Locust child in worker mode,
connected to the master over ZeroMQ: the measurements travel to the master, which merges them
and is the run's only writer. This parent only makes sure its child never outlives the run:

* the child exits by itself when the master quits (end of run) or is silent for
  ``MASTER_TIMEOUT_SECONDS`` (the master's process died);
* every second this parent looks at the run: once it is no longer ``running`` (ended, reaped)
  the child is stopped; so it is at the run's time cap (plus the join wait) and on SIGTERM;
* the kernel kills the child if this process dies (``PR_SET_PDEATHSIG``, as for the master).

Stopping a generator while the run goes on makes the master end the run ``failed`` (see
``docs/scaling.md``, "A generator lost mid-run").
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections

from runs.core.engine import protocol
from runs.engine.supervision import (
    HEARTBEAT_SECONDS,
    POLL_SECONDS,
    SHUTDOWN,
    ChildIO,
    ChildState,
    begin_stop,
    child_stop_timeout,
    drain,
    escalate,
    reap_child,
    run_cap_seconds,
    spawn_child,
)
from runs.models import Run
from runs.services.generators import generator_joined

log = logging.getLogger(__name__)

MASTER_TIMEOUT_SECONDS = 10


def generator_execute(
    *, run_id: int, index: int, master_host: str, master_port: int, pin: dict[str, Any] | None
) -> str:
    """Run generator ``index`` of ``run_id`` until the run no longer needs it; returns how it ended."""
    run = Run.objects.filter(pk=run_id).only("status", "snapshot", "planned_seconds").first()
    if run is None or run.status != Run.Status.RUNNING:
        log.info("run %s: generator %d not started, the run is not running", run_id, index)
        return "skipped"
    generator_joined(run_id=run_id, index=index)  # its host, for the run page
    stop_grace = float(settings.SCALETEST_STOP_GRACE_SECONDS)
    cap = run_cap_seconds(run.planned_seconds) + settings.SCALETEST_GENERATOR_JOIN_TIMEOUT_SECONDS
    sup = ChildState(run_id=run_id, cap_seconds=cap, stop_grace=stop_grace)
    engine = protocol.WorkerOptions(
        index=index,
        master_host=master_host,
        master_port=master_port,
        master_timeout=MASTER_TIMEOUT_SECONDS,
        stop_timeout=child_stop_timeout(stop_grace),
        pin=protocol.parse_pin(pin),
    )
    io = ChildIO(spawn_child())
    try:
        io.send(protocol.encode_start(run.snapshot, engine))
        _watch(sup, io)
    finally:
        returncode = reap_child(io, stop_grace)
    if sup.fatal is not None:
        log.warning("run %s: generator %d failed: %s\n%s", run_id, index, sup.fatal.message, io.stderr_text())
        return "failed"
    log.info(
        "run %s: generator %d ended (%s, exit %s)", run_id, index, sup.stop_cause or "master done", returncode
    )
    return sup.stop_cause or "finished"


def _watch(sup: ChildState, io: ChildIO) -> None:
    last_look = time.monotonic()
    while not sup.eof:
        drain(io, sup.note, timeout=POLL_SECONDS)
        now = time.monotonic()
        if sup.stop_cause is None:
            if now - last_look >= HEARTBEAT_SECONDS:
                last_look = now
                if not _run_is_running(sup.run_id):
                    begin_stop(sup, io, "run ended")
            if sup.stop_cause is None and SHUTDOWN.is_set():
                begin_stop(sup, io, "shutdown")
            if sup.stop_cause is None and now - sup.started > sup.cap_seconds:
                begin_stop(sup, io, "cap")
        if sup.stop_at is not None:
            escalate(sup, io, now)


def _run_is_running(run_id: int) -> bool:
    try:
        return Run.objects.filter(pk=run_id, status=Run.Status.RUNNING).exists()
    except DatabaseError:
        # A database outage is not a reason to stop: the master decides, or its silence does.
        close_old_connections()
        return True
