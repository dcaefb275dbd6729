"""Mark runs whose worker went silent as failed (Airflow's zombie-task pattern).

A running run's task touches ``heartbeat_at`` about once a second. A worker that was killed
(OOM, SIGKILL, machine lost) cannot end its run, so the run would stay ``running`` forever;
this finds such runs and fails them, keeping and summarising what they had stored.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from runs.models import Run
from runs.services import dispatch
from runs.services.control import run_controls_close
from runs.services.results import run_summarise

log = logging.getLogger(__name__)


def runs_reap_stale(*, stale_after_seconds: float | None = None) -> list[int]:
    """Fail running runs without a heartbeat for ``stale_after_seconds``; returns their ids.

    The default threshold is ``SCALETEST_REAP_AFTER_SECONDS``; Celery beat runs this every
    ``SCALETEST_REAP_INTERVAL_SECONDS`` (30 s).
    """
    if stale_after_seconds is None:
        stale_after_seconds = float(settings.SCALETEST_REAP_AFTER_SECONDS)
    now = timezone.now()
    cutoff = now - dt.timedelta(seconds=stale_after_seconds)
    # A run claimed but never heartbeating (heartbeat_at null) is judged by its claim time.
    stale = Q(status=Run.Status.RUNNING) & (
        Q(heartbeat_at__lt=cutoff)
        | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
        | Q(heartbeat_at__isnull=True, started_at__isnull=True)
    )
    reaped = []
    for run_id in Run.objects.filter(stale).values_list("pk", flat=True):
        message = (
            f"The worker was lost: no heartbeat for over {stale_after_seconds:.0f} s. "
            "The results measured until then are kept."
        )
        # Conditional on still being stale: a worker that just came back keeps its run.
        if Run.objects.filter(stale, pk=run_id).update(
            status=Run.Status.FAILED, finished_at=now, error_message=message, current_users=0
        ):
            reaped.append(run_id)
            run_controls_close(run_id=run_id)
            try:
                run_summarise(run_id=run_id)
            except Exception:  # the run has ended either way; one bad summary must not stop the sweep
                log.exception("run %s: summarising a reaped run failed", run_id)
            from runs.services.notifications import notifications_run_ended

            notifications_run_ended(run_id=run_id)
    return reaped


def runs_requeue_lost(
    *, requeue_after_seconds: float | None = None, give_up_after_seconds: float | None = None
) -> tuple[list[int], list[int]]:
    """Queued runs whose task message may have been lost: send them again, or give up on them.

    Messages are acked on receipt and Redis keeps no copy of its queue across a restart, so a
    run can stay ``queued`` with no message left to start it. Sending its task again is safe:
    the claim in the database makes any extra delivery a no-op. A run still queued after
    ``give_up_after_seconds`` (no worker for that long) fails without sending any load, so it
    does not start hours after someone asked for it, nor hold a concurrent-run slot forever.
    Returns (ids sent again, ids failed).
    """
    if requeue_after_seconds is None:
        requeue_after_seconds = float(settings.SCALETEST_REQUEUE_AFTER_SECONDS)
    if give_up_after_seconds is None:
        give_up_after_seconds = float(settings.SCALETEST_QUEUED_TIMEOUT_SECONDS)
    now = timezone.now()
    queued = Q(status=Run.Status.QUEUED)
    too_old = queued & Q(created_at__lt=now - dt.timedelta(seconds=give_up_after_seconds))
    failed = list(Run.objects.filter(too_old).values_list("pk", flat=True))
    if failed:
        Run.objects.filter(too_old, pk__in=failed).update(
            status=Run.Status.FAILED,
            finished_at=now,
            error_message=(
                f"No worker started this run within {give_up_after_seconds:.0f} s, so it was given up; "
                "no load was sent. Check that a worker is running, then start the plan again."
            ),
        )
        from runs.services.notifications import notifications_run_ended

        for run_id in failed:
            notifications_run_ended(run_id=run_id)
    waiting = queued & (
        Q(enqueued_at__lt=now - dt.timedelta(seconds=requeue_after_seconds))
        | Q(enqueued_at__isnull=True, created_at__lt=now - dt.timedelta(seconds=requeue_after_seconds))
    )
    requeued = []
    for run_id in Run.objects.filter(waiting).order_by("created_at", "pk").values_list("pk", flat=True):
        if Run.objects.filter(waiting, pk=run_id).update(enqueued_at=now):
            try:
                dispatch.execute_run_send(run_id)
            except Exception:  # noqa: BLE001 - broker still down: the next sweep tries again
                log.exception("run %s: sending its task again failed", run_id)
                continue
            requeued.append(run_id)
    return requeued, failed
