"""Celery tasks: thin wrappers that take an id and call a service."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.signals import worker_ready, worker_shutting_down
from django.conf import settings

from runs.engine.generator import generator_execute
from runs.engine.reaper import runs_reap_stale, runs_requeue_lost
from runs.engine.runner import SHUTDOWN_MESSAGE, run_execute
from runs.engine.supervision import stop_on_sigterm
from runs.models import Run
from runs.services.runs import run_claim
from runs.services.schedules import schedules_start_due

log = logging.getLogger(__name__)

__all__ = [
    "deliver_notification",
    "execute_run",
    "notify_run_ended",
    "reap_stale_runs",
    "run_generator",
    "runs_reap_stale",
    "start_due_schedules",
]

# The runner enforces the real cap (planned + grace, at most SCALETEST_MAX_RUN_SECONDS) and
# stops its child within the stop grace; these limits only catch a runner that hangs itself.
SOFT_TIME_LIMIT = (
    settings.SCALETEST_MAX_RUN_SECONDS
    + settings.SCALETEST_RUN_GRACE_SECONDS
    + settings.SCALETEST_STOP_GRACE_SECONDS
    + 60
)


@shared_task(
    name="runs.tasks.execute_run",
    # Acked on receipt (settings: CELERY_TASK_ACKS_LATE = False): a run can outlast the
    # broker's visibility timeout, and a redelivery would double the load on the target.
    acks_late=False,
    soft_time_limit=SOFT_TIME_LIMIT,
    time_limit=SOFT_TIME_LIMIT + 30,
    ignore_result=True,
)
def execute_run(run_id: int) -> None:
    # The claim in the database makes a second delivery (or a cancelled run) a no-op.
    if not run_claim(run_id=run_id):
        log.info("run %s: not claimed (already taken, cancelled or gone)", run_id)
        return
    with stop_on_sigterm():
        run_execute(run_id=run_id)


@shared_task(
    name="runs.tasks.run_generator",
    # Routed to SCALETEST_GENERATOR_QUEUE (settings.CELERY_TASK_ROUTES). Acked on receipt like
    # execute_run; a generator sent twice for a run that already ended does nothing.
    acks_late=False,
    soft_time_limit=SOFT_TIME_LIMIT + settings.SCALETEST_GENERATOR_JOIN_TIMEOUT_SECONDS,
    time_limit=SOFT_TIME_LIMIT + settings.SCALETEST_GENERATOR_JOIN_TIMEOUT_SECONDS + 30,
    ignore_result=True,
)
def run_generator(run_id: int, index: int, master_host: str, master_port: int, pin: Any = None) -> None:
    with stop_on_sigterm():
        generator_execute(
            run_id=run_id, index=index, master_host=master_host, master_port=master_port, pin=pin
        )


@shared_task(name="runs.tasks.reap_stale_runs", ignore_result=True)
def reap_stale_runs() -> int:
    # Also notification deliveries whose worker died mid-send: nothing stays "sending".
    from runs.services.notifications import deliveries_recover_stale

    requeued, gave_up = runs_requeue_lost()
    again, failed = deliveries_recover_stale()
    return len(runs_reap_stale()) + len(requeued) + len(gave_up) + len(again) + len(failed)


@shared_task(name="runs.tasks.start_due_schedules", ignore_result=True, soft_time_limit=120, time_limit=150)
def start_due_schedules() -> int:
    # Each plan is claimed in the database (runs.services.schedules): a duplicate is a no-op.
    return sum(1 for outcome in schedules_start_due() if outcome.run_id)


@shared_task(name="runs.tasks.purge_audit_entries", ignore_result=True, soft_time_limit=300, time_limit=330)
def purge_audit_entries() -> int:
    """Delete audit entries past SCALETEST_AUDIT_RETENTION_DAYS (beat, hourly)."""
    from runs.services.audit import audit_purge

    return audit_purge()


@shared_task(name="runs.tasks.retention_rollup", ignore_result=True, soft_time_limit=3000, time_limit=3300)
def retention_rollup() -> int:
    """Roll old runs' per-second rows up past SCALETEST_RETENTION_DAYS (beat, daily)."""
    from runs.services.retention import retention_apply

    return len(retention_apply())


@shared_task(name="runs.tasks.pack_ended_runs", ignore_result=True, soft_time_limit=3000, time_limit=3300)
def pack_ended_runs() -> int:
    """Pack ended runs' per-second rows past SCALETEST_PACK_AFTER_HOURS (beat, hourly)."""
    from runs.services.packing import packing_apply

    return sum(1 for result in packing_apply() if result.packed)


class DeliveryRetry(Exception):
    """A notification attempt failed in a way another attempt may fix (5xx, timeout, SMTP down)."""


@shared_task(name="runs.tasks.notify_run_ended", ignore_result=True, soft_time_limit=120, time_limit=150)
def notify_run_ended(run_id: int) -> int:
    # One row per (hook, run, event): a second delivery of this message creates nothing.
    from runs.services.notifications import run_deliveries_create

    return len(run_deliveries_create(run_id=run_id))


@shared_task(
    name="runs.tasks.deliver_notification",
    bind=True,
    autoretry_for=(DeliveryRetry,),
    # Waits of backoff × 2^n seconds (full jitter), at most an hour, until the attempt cap.
    retry_backoff=settings.SCALETEST_NOTIFY_RETRY_BACKOFF_SECONDS,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=settings.SCALETEST_NOTIFY_MAX_ATTEMPTS - 1,
    soft_time_limit=settings.SCALETEST_NOTIFY_TIMEOUT_SECONDS * 3 + 30,
    time_limit=settings.SCALETEST_NOTIFY_TIMEOUT_SECONDS * 3 + 60,
    ignore_result=True,
)
def deliver_notification(self: Any, delivery_id: int) -> str:
    # Each attempt claims the row in the database (runs.services.notifications): a duplicate
    # message finds it taken or done and sends nothing.
    from runs.services.notifications import RETRY, delivery_attempt

    outcome = delivery_attempt(delivery_id=delivery_id, final=self.request.retries >= self.max_retries)
    if outcome == RETRY:
        raise DeliveryRetry(f"notification {delivery_id}: attempt {self.request.retries + 1} failed")
    return outcome


@worker_ready.connect
def _reap_on_start(**_: Any) -> None:
    # A worker that starts after a crash is the first to know its runs are orphans; runs of
    # live workers have a fresh heartbeat and are left alone.
    try:
        reaped = runs_reap_stale()
    except Exception:  # noqa: BLE001 - a broken reaper must not keep the worker from starting
        log.exception("reaping stale runs failed")
        return
    if reaped:
        log.warning("marked stale runs failed: %s", reaped)


@worker_shutting_down.connect
def _stop_runs_on_shutdown(**_: Any) -> None:
    """Warm shutdown waits for running tasks; ask this worker's runs to stop so it waits seconds,
    not hours. Runs in the main process, which knows what its pool children execute."""
    from celery.worker import state  # worker machinery (0.1 s): only a worker gets here

    run_ids = [
        request.args[0]
        for request in list(state.active_requests)
        if request.name == execute_run.name and request.args
    ]
    if not run_ids:
        return
    try:
        Run.objects.filter(pk__in=run_ids, status=Run.Status.RUNNING).update(
            cancel_requested=True, error_message=SHUTDOWN_MESSAGE
        )
    except Exception:  # noqa: BLE001 - never break the shutdown itself
        log.exception("could not ask runs %s to stop", run_ids)
