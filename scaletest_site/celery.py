"""Celery application (cookiecutter-django wiring: settings under the CELERY_ namespace)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scaletest_site.settings")

app = Celery("scaletest")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
