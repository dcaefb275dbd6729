"""Who may run what kind of scenario."""

from __future__ import annotations

from django.conf import settings

from runs.models import Team


def locustfile_allowed(*, team: Team) -> bool:
    """Whether ``team``'s scenarios may be locustfiles (saved and run).

    A locustfile is arbitrary Python run by the worker's Locust child; the pinning there
    (``runs.core.engine.pinning``) limits where its clients connect by name, not what the code does.
    So only operators can allow it: per team (``Team.allow_locustfiles``, set in the Django
    admin), and the server-wide ``SCALETEST_ALLOW_LOCUSTFILES`` switch can forbid it for every
    team. Checked here and only here.
    """
    return bool(settings.SCALETEST_ALLOW_LOCUSTFILES) and team.allow_locustfiles
