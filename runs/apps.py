from __future__ import annotations

from django.apps import AppConfig


class RunsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "runs"
    verbose_name = "Load tests"

    def ready(self) -> None:
        from runs.security import signals  # noqa: F401  (audit receivers for sign-in failures)
