"""Mark runs whose worker went silent as failed (Airflow's zombie-task pattern).

A running run's task touches ``heartbeat_at`` about once a second. A worker that was killed
(OOM, SIGKILL, machine lost) cannot end its run, so the run would stay ``running`` forever;
this finds such runs and fails them, keeping and summarising what they had stored.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from runs.models import Run
from runs.services.results import run_summarise

def runs_reap_stale(*, stale_after_seconds: float | None = None) -> list[int]:
    """Fail running runs without a heartbeat for ``stale_after_seconds``; returns their ids.

    The default threshold is ``SCALETEST_REAP_AFTER_SECONDS``; Celery beat runs this every 30 s.
    """
    if stale_after_seconds is None:
        stale_after_seconds = float(settings.SCALETEST_REAP_AFTER_SECONDS)
    now = timezone.now()
    cutoff = now - dt.timedelta(seconds=stale_after_seconds)
    # A run claimed but never heartbeating (heartbeat_at null) is judged by its claim time.
    stale = Q(status=Run.Status.RUNNING) & (
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
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
            run_summarise(run_id=run_id)
            reaped.append(run_id)
    return reaped
