"""Celery application (cookiecutter-django wiring: settings under the CELERY_ namespace).

Plus two guards on beat, wherever it runs (``manage.py up``, compose's beat service, a
``worker -B``): exactly one beat per data dir, and an embedded beat dies with its worker.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from billiard.process import current_process
from celery import Celery
from celery.beat import PersistentScheduler
from celery.signals import beat_embedded_init
from django.conf import settings

from runs.core.lifetime import BeatLockHeld, beat_lock_hold, die_with_parent

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scaletest_site.settings")

log = logging.getLogger(__name__)

app = Celery("scaletest")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class OneBeatScheduler(PersistentScheduler):
    """Celery's default scheduler (a shelve file), started only by the one beat of a data dir.

    A second beat (an orphan of a killed ``worker -B``, a beat service scaled to 2) would send
    every periodic task twice, and both would rewrite the same schedule file. So the lock is
    taken before the file is opened (``settings.CELERY_BEAT_SCHEDULER``); the kernel releases
    it when its holder dies, however it dies.
    """

    def setup_schedule(self) -> None:
        try:
            beat_lock_hold(Path(settings.DATA_DIR) / "beat.lock")
        except BeatLockHeld as exc:
            log.critical("beat: %s", exc)
            raise SystemExit(1) from None  # not an Exception: Celery lets it end the process
        super().setup_schedule()


@beat_embedded_init.connect
def _embedded_beat_dies_with_its_worker(**_: Any) -> None:
    # `worker -B` forks beat as a child process that nothing else watches: without this a
    # SIGKILLed worker leaves it running as an orphan, and the restarted worker adds a second.
    parent = getattr(current_process(), "_parent_pid", None) or os.getppid()
    die_with_parent(parent_pid=parent)
