"""The parent side of a run, executed inside the Celery task: supervise the Locust child.

It spawns the Locust child (``runs.engine.supervision``), hands it the snapshot, stores what the child
measures in batches every 2 s, keeps the heartbeat fresh (every second), forwards cancels,
stops the run when an ``abort`` threshold stays crossed (``runs.core.thresholds.AbortWatch``),
enforces the time cap and always ends the run ``finished``, ``failed`` or ``cancelled``.
Nothing already measured is dropped: the last partial batch is stored before the run ends,
whatever happened.
``runs.core.engine.protocol`` documents the channel; ``runs.engine.supervision`` holds what
this parent shares with a generator's (spawning, reading, stopping the child).
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections

from runs.core import thresholds
from runs.core.engine import protocol
from runs.core.safety import Refused
from runs.engine.metrics import MetricCollector, collector_finish, collector_flush, collector_start
from runs.engine.supervision import (
    HEARTBEAT_SECONDS,
    POLL_SECONDS,
    SHUTDOWN,
    ChildIO,
    ChildState,
    begin_stop,
    child_stop_timeout,
    drain,
    drain_rest,
    escalate,
    reap_child,
    run_cap_seconds,
    spawn_child,
)
from runs.models import Run, RunControl
from runs.services import dispatch
from runs.services.control import run_control_acknowledge, run_controls_take, stop_applied, stop_message
from runs.services.results import results_ingest
from runs.services.runs import run_finish, run_heartbeat
from runs.services.safety import target_preflight
from runs.services.thresholds import run_seconds_for_watch

log = logging.getLogger(__name__)

# Results are stored every 2 s: each flush is one transaction of ~5 round trips whatever its
# size, so this halves the parent's per-second database work; the live page (which polls
# every second) still gets new data at least every 2 s. The heartbeat, which is also how a
# cancel is noticed, stays at 1 s, so a cancel still stops the load within the stop grace.
FLUSH_SECONDS = 2.0

SHUTDOWN_MESSAGE = "The worker shut down during the run; the results measured until then are kept."


# -- supervision -------------------------------------------------------------------------------
@dataclass
class Supervision(ChildState):
    """What happened during one run; decides how it ends (``outcome``)."""

    start_epoch: int | None = None
    pending: list[protocol.SecondMessage] = field(default_factory=list)
    # Highest t stored for the run (this parent is its only writer): seconds above it are
    # inserted without looking for stored rows. After a failed store the next one looks.
    last_t: int = -1
    ingest_failed: bool = False
    # Messages stored so far, in the order received: the number of pending[0] (results_ingest's
    # ``seq``), so a batch retried after a commit whose outcome was lost is not stored twice.
    stored_messages: int = 0
    # Distributed runs: what each generator task needs besides the master's port.
    generators: int = 1
    generator_pin: dict[str, Any] | None = None
    generators_sent: bool = False
    store_error: str = ""
    cancel_message: str = ""
    # Live control: why the run was stopped early ("stopped early"), for its note.
    early_message: str = ""
    # Thresholds with ``abort``: checked on each stored second (see ``_watch``).
    watch: thresholds.AbortWatch | None = None
    abort: thresholds.Abort | None = None
    # Capacity searches: the decided steps as the child sent them, and how the search ended.
    search_decisions: list[dict[str, Any]] = field(default_factory=list)
    search_outcome: dict[str, Any] | None = None
    search_stored: bool = True
    # Server-side metrics of the target (runs.engine.metrics), read from the hello on.
    snapshot: dict[str, Any] = field(default_factory=dict)
    metrics: MetricCollector | None = None

    def outcome(self, returncode: int | None, stderr: str) -> tuple[str, str]:
        """(status, error message) for ``run_finish``."""
        status, message = self._outcome(returncode, stderr)
        if self.store_error:
            status = Run.Status.FAILED
            message = (message + "\n" if message else "") + self.store_error
        return status, message

    def _outcome(self, returncode: int | None, stderr: str) -> tuple[str, str]:
        if self.fatal is not None:
            return Run.Status.FAILED, _with_tail(f"The load generator failed: {self.fatal.message}", stderr)
        if self.stop_cause == "cap":
            return Run.Status.FAILED, (
                f"Stopped by the time cap of {self.cap_seconds:.0f} s; "
                "the results measured until then are kept."
            )
        if self.stop_cause == "shutdown":
            return Run.Status.CANCELLED, SHUTDOWN_MESSAGE
        if self.stop_cause == "cancel":
            return Run.Status.CANCELLED, self.cancel_message
        if self.stop_cause == "stopped early":
            # Asked for on the run page or the API: every measured second is kept and analysed.
            return Run.Status.FINISHED, self.early_message
        if self.stop_cause == "threshold" and self.abort is not None:
            # It ran as planned until a pass/fail criterion stopped it: finished, not passed.
            return Run.Status.FINISHED, self.abort.message()
        if self.done is not None and returncode == 0:
            return Run.Status.FINISHED, ""
        return Run.Status.FAILED, _with_tail(
            f"The load generator exited unexpectedly ({_describe_exit(returncode)}); "
            "the results measured until then are kept.",
            stderr,
        )


def _describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def _with_tail(message: str, stderr: str) -> str:
    return f"{message}\n--- stderr (last lines) ---\n{stderr}" if stderr.strip() else message


def run_execute(*, run_id: int) -> str:
    """Run a claimed (``running``) run to its end; returns the final status."""
    run = Run.objects.get(pk=run_id)
    try:
        # Again, just before any load: DNS may have changed and the proof may be gone since
        # the run was queued. The child connects to the address checked here and nowhere else.
        pin = target_preflight(target=run.snapshot.get("target") or {}).pin
    except Refused as exc:
        run_finish(
            run_id=run_id, status=Run.Status.FAILED, error_message=f"Not started, no load was sent: {exc}"
        )
        return Run.Status.FAILED
    stop_grace = float(settings.SCALETEST_STOP_GRACE_SECONDS)
    generators = run_generators(run)
    cap = run_cap_seconds(run.planned_seconds)
    if generators > 1:
        cap += settings.SCALETEST_GENERATOR_JOIN_TIMEOUT_SECONDS  # the wait for generators is not load
    sup = Supervision(
        run_id=run_id, cap_seconds=cap, stop_grace=stop_grace, generators=generators, generator_pin=pin
    )
    sup.last_t = run.last_t  # -1 for a new run; higher if an earlier attempt stored seconds
    sup.watch = _abort_watch(run)
    sup.snapshot = run.snapshot or {}
    io: ChildIO | None = None
    try:
        engine = _engine_options(generators, stop_grace, pin)
        proc = spawn_child()
        io = ChildIO(proc)
        io.send(protocol.encode_start(run.snapshot, engine))
        _supervise(sup, io)
    except Exception as exc:
        log.exception("run %s: supervision failed", run_id)
        sup.fatal = sup.fatal or protocol.FatalMessage(
            f"internal error in the worker: {type(exc).__name__}: {exc}"
        )
        raise
    finally:
        returncode = None
        if io is not None:
            returncode = reap_child(io, stop_grace)
            # Anything queued after the loop stopped looking (an error path).
            drain_rest(io, lambda item: _handle(sup, item))
        collector_finish(sup.metrics)
        _flush(sup, final=True)
        _store_search(sup)
        status, message = sup.outcome(returncode, io.stderr_text() if io else "")
        _with_db_retry(run_finish, run_id=run_id, status=status, error_message=message)
        log.info("run %s ended %s %s", run_id, status, message[:200])
    return status


def _engine_options(generators: int, stop_grace: float, pin: dict[str, Any] | None) -> protocol.EngineOptions:
    """The child's options: one process, or the master of ``generators`` Locust workers."""
    stop_timeout = child_stop_timeout(stop_grace)
    if generators > 1:
        return protocol.MasterOptions(
            stop_timeout=stop_timeout,
            pin=protocol.parse_pin(pin),
            generators=generators,
            bind_host=settings.SCALETEST_GENERATOR_BIND,
            join_timeout=settings.SCALETEST_GENERATOR_JOIN_TIMEOUT_SECONDS,
        )
    return protocol.LocalOptions(stop_timeout=stop_timeout, pin=protocol.parse_pin(pin))


def run_generators(run: Run) -> int:
    """Generator processes of ``run``: the snapshot's (taken from the plan), 1 for older runs."""
    try:
        return max(1, int((run.snapshot or {}).get("generators") or 1))
    except (TypeError, ValueError):
        return 1


def generator_advertised_host() -> str:
    """The address generators connect to for masters started on this host."""
    if settings.SCALETEST_GENERATOR_ADVERTISE:
        return settings.SCALETEST_GENERATOR_ADVERTISE
    bind = settings.SCALETEST_GENERATOR_BIND
    if bind in ("0.0.0.0", "*", "::", ""):
        return socket.gethostbyname(socket.gethostname())
    return bind


def _send_generators(sup: Supervision, port: int) -> None:
    """The master listens: one generator task per generator, on the generator queue."""
    if sup.generators_sent:
        return
    sup.generators_sent = True
    host = generator_advertised_host()
    log.info("run %s: master on %s:%s, sending %d generators", sup.run_id, host, port, sup.generators)
    for index in range(sup.generators):
        try:
            dispatch.run_generator_send(
                sup.run_id, index, host, port, sup.generator_pin, queue=settings.SCALETEST_GENERATOR_QUEUE
            )
        except Exception:  # noqa: BLE001 - broker down: the master's join timeout fails the run
            log.exception("run %s: sending generator %d failed", sup.run_id, index)


def _supervise(sup: Supervision, io: ChildIO) -> None:
    last_flush = last_beat = time.monotonic()
    while True:
        drain(io, lambda item: _handle(sup, item), timeout=POLL_SECONDS)
        now = time.monotonic()
        if now - last_flush >= FLUSH_SECONDS:
            last_flush = now
            _flush(sup)
            if sup.watch is not None and sup.stop_cause is None:
                _watch(sup, io)
        if now - last_beat >= HEARTBEAT_SECONDS:
            last_beat = now
            if _heartbeat(sup.run_id) and sup.stop_cause is None:
                sup.cancel_message = Run.objects.values_list("error_message", flat=True).get(pk=sup.run_id)
                begin_stop(sup, io, "cancel")
            if sup.stop_cause is None and sup.start_epoch is not None:
                _controls(sup, io)
        if SHUTDOWN.is_set() and sup.stop_cause is None:
            begin_stop(sup, io, "shutdown")
        if now - sup.started > sup.cap_seconds and sup.stop_cause is None:
            log.warning("run %s: time cap of %.0f s reached", sup.run_id, sup.cap_seconds)
            begin_stop(sup, io, "cap")
        if sup.stop_at is not None:
            escalate(sup, io, now)
        if sup.eof:
            return


def _abort_watch(run: Run) -> thresholds.AbortWatch | None:
    try:
        watch = thresholds.AbortWatch(thresholds.parse_thresholds(run.thresholds))
    except ValueError:
        log.exception("run %s: its thresholds are invalid; none will abort it", run.pk)
        return None
    return watch if watch.active else None


def _watch(sup: Supervision, io: ChildIO) -> None:
    """Feed the seconds stored since the last check to the abort watch; stop the run the way a
    cancel does when a threshold has been crossed for its ``abort`` seconds. A failure here
    only turns the watch off: it must never end or hang the run."""
    watch = sup.watch
    assert watch is not None
    if sup.last_t <= watch.last_t:
        return
    try:
        overall, endpoints = run_seconds_for_watch(
            run_id=sup.run_id,
            after=watch.last_t,
            upto=sup.last_t,
            endpoints=watch.endpoints(),
            with_p90=any(t.metric == "p90" and t.abort_after_seconds for t in watch.thresholds),
        )
        abort = watch.feed(overall, endpoints)
    except DatabaseError:
        log.warning("run %s: reading seconds for the abort thresholds failed", sup.run_id, exc_info=True)
        close_old_connections()
        return
    except Exception:
        log.exception("run %s: the abort thresholds failed; they are off for this run", sup.run_id)
        sup.watch = None
        return
    if abort is None:
        return
    sup.abort = abort
    log.info("run %s: %s", sup.run_id, abort.message())
    try:
        _with_db_retry(Run.objects.filter(pk=sup.run_id).update, threshold_abort=abort.to_dict())
    except DatabaseError:
        log.exception("run %s: could not record the abort", sup.run_id)
    begin_stop(sup, io, "threshold")


def _controls(sup: Supervision, io: ChildIO) -> None:
    """Send the changes asked for since the last look (``runs.services.control``); a stop early
    stops the load the way a cancel does, but the run ends finished. A database error skips
    one look: the changes stay pending for the next."""
    try:
        taken = run_controls_take(run_id=sup.run_id)
    except DatabaseError:
        log.warning("run %s: reading live changes failed", sup.run_id, exc_info=True)
        close_old_connections()
        return
    for entry in taken:
        if entry.kind == RunControl.Kind.STOP:
            at_s = _with_db_retry(stop_applied, entry=entry, start_epoch=sup.start_epoch)
            run = Run.objects.only("planned_seconds").get(pk=sup.run_id)
            sup.early_message = stop_message(entry=entry, at_s=at_s, planned_seconds=run.planned_seconds)
            begin_stop(sup, io, "stopped early")
            return  # later changes are missed: the run ends
        value = float(entry.value or 0)
        command = (
            protocol.SetCommand(id=entry.pk, rate=value)
            if entry.kind == RunControl.Kind.RATE
            else protocol.SetCommand(id=entry.pk, users=int(value))
        )
        log.info("run %s: live change %s to %g", sup.run_id, entry.kind, value)
        io.send(protocol.encode_set(command))


def _handle(sup: Supervision, item: Any) -> None:
    if sup.note(item):  # the end of the channel, done or fatal
        return
    if isinstance(item, protocol.SecondMessage):
        sup.pending.append(item)
    elif isinstance(item, protocol.ControlMessage):
        if sup.start_epoch is not None:
            _with_db_retry(
                run_control_acknowledge,
                run_id=sup.run_id,
                control_id=item.id,
                applied=item.applied,
                epoch=item.epoch,
                start_epoch=sup.start_epoch,
                message=item.message,
            )
    elif isinstance(item, protocol.HelloMessage):
        sup.start_epoch = item.start_epoch
        # t = 0 is the whole second the load started; started_at says the same.
        _with_db_retry(
            Run.objects.filter(pk=sup.run_id).update,
            locust_version=item.locust_version[:50],
            started_at=dt.datetime.fromtimestamp(item.start_epoch, tz=dt.UTC),
        )
        if sup.metrics is None:
            sup.metrics = collector_start(
                run_id=sup.run_id, snapshot=sup.snapshot, start_epoch=item.start_epoch
            )
    elif isinstance(item, protocol.MasterMessage):
        _send_generators(sup, item.port)
    elif isinstance(item, protocol.SearchMessage):
        if item.decision is not None:
            sup.search_decisions.append(item.decision)
        if item.outcome is not None:
            sup.search_outcome = item.outcome
        sup.search_stored = False
        _store_search(sup)


def _store_search(sup: Supervision) -> None:
    """Keep the search's decisions with the run as they come (a few per minute)."""
    if sup.search_stored:
        return
    try:
        _with_db_retry(
            Run.objects.filter(pk=sup.run_id).update,
            capacity_search={"decisions": sup.search_decisions, "outcome": sup.search_outcome},
        )
    except DatabaseError:
        log.exception("run %s: could not store the capacity search's decisions", sup.run_id)
        close_old_connections()
        return
    sup.search_stored = True


def _flush(sup: Supervision, *, final: bool = False) -> None:
    """Store the pending seconds. On a database error they stay pending for the next try."""
    collector_flush(sup.metrics)
    if not sup.pending:
        return
    if sup.start_epoch is None:
        log.error("run %s: results before hello; dropping %d seconds", sup.run_id, len(sup.pending))
        sup.pending.clear()
        return
    batch = sup.pending
    try:
        if final:
            _with_db_retry(_ingest, sup, batch)
        else:
            _ingest(sup, batch)
    except DatabaseError as exc:
        log.exception("run %s: storing %d seconds failed", sup.run_id, len(batch))
        close_old_connections()  # a lost connection is reopened by the next try
        if final:
            sup.store_error = f"{len(batch)} seconds of results could not be stored: {exc}"
        return
    sup.pending = []


def _ingest(sup: Supervision, batch: list[protocol.SecondMessage]) -> None:
    # After a failed attempt, whether it committed is not certain: look for stored rows.
    known = None if sup.ingest_failed else sup.last_t
    try:
        stored = results_ingest(
            run_id=sup.run_id,
            seconds=batch,
            start_epoch=sup.start_epoch,
            last_t=known,
            seq=sup.stored_messages,
        )
    except DatabaseError:
        sup.ingest_failed = True
        raise
    sup.ingest_failed = False
    sup.stored_messages += len(batch)
    sup.last_t = max(sup.last_t, stored)


DB_ATTEMPTS = 5


def _with_db_retry(call: Any, *args: Any, **kwargs: Any) -> Any:
    """``call`` again after a lost database connection (backend terminated, server restarted):
    Django keeps a broken connection until it is closed, so close it and let the retry reopen."""
    for attempt in range(DB_ATTEMPTS):
        try:
            return call(*args, **kwargs)
        except DatabaseError:
            if attempt == DB_ATTEMPTS - 1:
                raise
            log.warning("database call failed; reconnecting (attempt %d)", attempt + 1, exc_info=True)
            close_old_connections()
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _heartbeat(run_id: int) -> bool:
    """The heartbeat; a database outage skips one (the reaper allows many) instead of ending the run."""
    try:
        return run_heartbeat(run_id=run_id)
    except DatabaseError:
        log.warning("run %s: heartbeat failed; reconnecting", run_id, exc_info=True)
        close_old_connections()
        return False
