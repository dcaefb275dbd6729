"""Who may run what kind of scenario."""

from __future__ import annotations

from django.conf import settings

from runs.models import Scenario


def locustfile_allowed(*, scenario: Scenario) -> bool:
    """Whether locustfile scenarios may be saved and run for ``scenario`` (saved or not).

    A locustfile is arbitrary Python run by the worker's Locust child; the pinning there
    (``runs.engine.pinning``) limits where its clients connect by name, not what the code does.
    So only an administrator can allow it: for now the ``SCALETEST_ALLOW_LOCUSTFILES``
    setting; with teams, a per-team flag set by an administrator, checked here and only here.
    """
    return bool(settings.SCALETEST_ALLOW_LOCUSTFILES)
