"""Sending the Celery tasks of ``runs.tasks``, by name.

Services and the engine send work to the workers through these functions instead of importing
``runs.tasks`` (which imports them: an upward import and a cycle). The names are the tasks'
registered names; routing (``settings.CELERY_TASK_ROUTES``) and the tasks' own options (time
limits, acks) apply as with ``task.delay``. Each function raises what the broker raises when it
cannot be reached; callers decide whether that is an error.
"""

from __future__ import annotations

from typing import Any

from celery import current_app

EXECUTE_RUN = "runs.tasks.execute_run"
RUN_GENERATOR = "runs.tasks.run_generator"
REAP_STALE_RUNS = "runs.tasks.reap_stale_runs"
START_DUE_SCHEDULES = "runs.tasks.start_due_schedules"
NOTIFY_RUN_ENDED = "runs.tasks.notify_run_ended"
DELIVER_NOTIFICATION = "runs.tasks.deliver_notification"

__all__ = [
    "DELIVER_NOTIFICATION",
    "EXECUTE_RUN",
    "NOTIFY_RUN_ENDED",
    "REAP_STALE_RUNS",
    "RUN_GENERATOR",
    "START_DUE_SCHEDULES",
    "deliver_notification_send",
    "execute_run_send",
    "notify_run_ended_send",
    "run_generator_send",
]


def execute_run_send(run_id: int, *, queue: str | None = None) -> None:
    """Queue a run's task (``runs.tasks.execute_run``); the claim makes a second delivery a no-op."""
    options: dict[str, Any] = {"queue": queue} if queue else {}
    current_app.send_task(EXECUTE_RUN, args=[run_id], **options)


def run_generator_send(
    run_id: int, index: int, master_host: str, master_port: int, pin: Any = None, *, queue: str
) -> None:
    """Queue one generator of a distributed run (``runs.tasks.run_generator``) on ``queue``."""
    current_app.send_task(RUN_GENERATOR, args=[run_id, index, master_host, master_port, pin], queue=queue)


def notify_run_ended_send(run_id: int) -> None:
    """Queue the notifications of an ended run (``runs.tasks.notify_run_ended``)."""
    current_app.send_task(NOTIFY_RUN_ENDED, args=[run_id])


def deliver_notification_send(delivery_id: int) -> None:
    """Queue one notification delivery (``runs.tasks.deliver_notification``)."""
    current_app.send_task(DELIVER_NOTIFICATION, args=[delivery_id])
