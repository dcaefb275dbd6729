"""The reaper's sweep of queued runs: lost messages are sent again, hopeless runs given up.
(The broker is not involved here: the task is captured, not sent.)"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from runs.engine import reaper
from runs.models import Run
from runs.services.runs import plan_snapshot


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    from runs.services import dispatch

    ids: list[int] = []
    monkeypatch.setattr(dispatch, "execute_run_send", lambda run_id: ids.append(run_id))
    return ids


def _run(plan: Any, *, age: float, enqueued_age: float | None, status: str = Run.Status.QUEUED) -> Run:
    now = timezone.now()
    run = Run.objects.create(
        team=plan.team,
        plan=plan,
        plan_name=plan.name,
        snapshot=plan_snapshot(plan=plan),
        status=status,
        enqueued_at=None if enqueued_age is None else now - dt.timedelta(seconds=enqueued_age),
    )
    Run.objects.filter(pk=run.pk).update(created_at=now - dt.timedelta(seconds=age))
    return run


def test_queued_runs_waiting_too_long_are_sent_again_once_per_threshold(
    db: None, make_plan: Any, sent: list[int]
) -> None:
    plan = make_plan("http://127.0.0.1:9")
    fresh = _run(plan, age=5, enqueued_age=5)
    waiting = _run(plan, age=100, enqueued_age=100)
    legacy = _run(plan, age=100, enqueued_age=None)  # created before enqueued_at existed
    _run(plan, age=100, enqueued_age=100, status=Run.Status.RUNNING)

    assert reaper.runs_requeue_lost(requeue_after_seconds=60) == ([waiting.pk, legacy.pk], [])
    assert sorted(sent) == sorted([waiting.pk, legacy.pk])
    assert reaper.runs_requeue_lost(requeue_after_seconds=60) == ([], [])  # not again at once
    assert Run.objects.get(pk=fresh.pk).status == Run.Status.QUEUED


def test_a_run_queued_past_the_timeout_fails_without_load_and_frees_its_slot(
    db: None, make_plan: Any, sent: list[int]
) -> None:
    plan = make_plan("http://127.0.0.1:9")
    old = _run(plan, age=settings.SCALETEST_QUEUED_TIMEOUT_SECONDS + 10, enqueued_age=30)

    requeued, failed = reaper.runs_requeue_lost()

    assert failed == [old.pk] and requeued == [] and sent == []
    old.refresh_from_db()
    assert old.status == Run.Status.FAILED and old.finished_at is not None
    assert "no load was sent" in old.error_message
    assert old.started_at is None


def test_the_beat_task_sweeps_queued_and_running_runs(db: None, make_plan: Any, sent: list[int]) -> None:
    from runs.tasks import reap_stale_runs

    plan = make_plan("http://127.0.0.1:9")
    _run(plan, age=600, enqueued_age=600)
    assert reap_stale_runs() == 1 and len(sent) == 1


def test_broker_settings_make_runs_at_most_once() -> None:
    assert settings.CELERY_TASK_ACKS_LATE is False
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    from runs.tasks import execute_run

    assert execute_run.acks_late is False
    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        # Longer than any run could last, so an unacked reserved message is not redelivered mid-run.
        assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > (
            settings.SCALETEST_MAX_RUN_SECONDS + settings.SCALETEST_RUN_GRACE_SECONDS
        )
