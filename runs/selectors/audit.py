"""A team's audit trail (entries written by runs.services.audit)."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone

from runs.models import AuditEntry


def since_days(days: int | None) -> dt.datetime | None:
    return timezone.now() - dt.timedelta(days=days) if days else None


def audit_entries(
    *, team_id: int, action: str = "", actor: str = "", since: dt.datetime | None = None
) -> QuerySet[AuditEntry]:
    """A team's entries, newest first, optionally of one action, by one username, since a time."""
    entries = AuditEntry.objects.filter(team_id=team_id)
    if action:
        entries = entries.filter(action=action)
    if actor:
        entries = entries.filter(actor_name=actor)
    if since is not None:
        entries = entries.filter(created_at__gte=since)
    return entries.order_by("-created_at", "-id")
