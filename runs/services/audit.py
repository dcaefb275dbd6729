"""The audit trail: who did what security-relevant thing, when, from where and how.

Services call :func:`audit_record` once per action (share links, API tokens, memberships,
target verification, run start and cancel); the Django admin calls the ``audit_*`` helpers for
what operators change there (team caps, locustfile permission, allowlist entries, members);
``runs.security.signals`` records failed sign-ins and lockouts from django-axes.

Services take no request: the middleware (``runs.security.middleware``) puts the current
request in a context variable for the length of the request, and :func:`audit_record` reads the
actor, the client's address and the channel (page, API, admin) from it. Work without a request
(beat's schedules, the CI command) says who and how with :func:`acting`. An entry is written in
the caller's transaction: an action that rolls back leaves no entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import models
from django.http import HttpRequest
from django.utils import timezone

from runs.models import AuditEntry, Run

Action = AuditEntry.Action
Via = AuditEntry.Via

# Team fields that are caps, and the permission to run locustfiles (operators set them).
TEAM_CAP_FIELDS = ("max_users", "max_run_seconds", "max_concurrent_runs", "target_daily_user_seconds")
TRIGGER_VIA: dict[str, str] = {
    Run.Trigger.MANUAL: Via.PAGE,
    Run.Trigger.API: Via.API,
    Run.Trigger.CI: Via.CI,
    Run.Trigger.SCHEDULED: Via.SCHEDULE,
}


@dataclass(frozen=True)
class Acting:
    user: Any
    via: str


_request: ContextVar[HttpRequest | None] = ContextVar("audit_request", default=None)
_acting: ContextVar[Acting | None] = ContextVar("audit_acting", default=None)


@contextmanager
def request_context(request: HttpRequest) -> Iterator[None]:
    token = _request.set(request)
    try:
        yield
    finally:
        _request.reset(token)


@contextmanager
def acting(*, user: Any = None, via: str) -> Iterator[None]:
    """Entries recorded inside are by ``user`` through ``via`` (work outside a request)."""
    token = _acting.set(Acting(user=user, via=via))
    try:
        yield
    finally:
        _acting.reset(token)


def _via_of(request: HttpRequest) -> str:
    match = request.resolver_match
    namespaces = match.namespaces if match is not None else []
    if "api" in namespaces:
        return Via.API
    if "admin" in namespaces:
        return Via.ADMIN
    return Via.PAGE


def _user_or_none(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None


def audit_record(
    *,
    action: str,
    obj: models.Model | None = None,
    label: str | None = None,
    team_id: int | None = None,
    details: Mapping[str, Any] | None = None,
    via: str | None = None,
    actor: Any = None,
    actor_name: str = "",
    request: HttpRequest | None = None,
) -> AuditEntry:
    """Record ``action`` on ``obj`` (its type, id and ``label`` or ``str(obj)``).

    ``team_id`` defaults to the object's ``team_id``. Actor, address and channel come from the
    current request or :func:`acting` unless given.
    """
    request = request if request is not None else _request.get()
    context = _acting.get()
    if actor is None:
        if context is not None:
            actor = context.user
        elif request is not None:
            actor = getattr(request, "user", None)
    actor = _user_or_none(actor)
    if via is None:
        via = (
            context.via if context is not None else (_via_of(request) if request is not None else Via.SYSTEM)
        )
    from runs.security.client import client_address

    return AuditEntry.objects.create(
        action=action,
        actor=actor,
        actor_name=(actor.get_username() if actor is not None else actor_name)[:150],
        address=client_address(request) if request is not None else None,
        via=via,
        object_type=(obj._meta.model_name or "") if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_label=(label if label is not None else (str(obj) if obj is not None else ""))[:300],
        team_id=team_id if team_id is not None else getattr(obj, "team_id", None),
        details=dict(details or {}),
    )


# -- what operators change in the admin ---------------------------------------------------------
def team_settings(team: Any) -> dict[str, Any]:
    """The audited settings of ``team`` as they are now (pass them back as ``before``)."""
    return {name: getattr(team, name) for name in (*TEAM_CAP_FIELDS, "allow_locustfiles")}


def audit_team_settings(*, team: Any, before: Mapping[str, Any]) -> list[AuditEntry]:
    """Entries for the caps and locustfile permission of ``team`` that differ from ``before``."""
    after = team_settings(team)
    entries = []
    caps = {
        name: [before.get(name), after[name]] for name in TEAM_CAP_FIELDS if before.get(name) != after[name]
    }
    if caps:
        entries.append(audit_record(action=Action.TEAM_CAPS, obj=team, team_id=team.pk, details=caps))
    if bool(before.get("allow_locustfiles")) != after["allow_locustfiles"]:
        entries.append(
            audit_record(
                action=Action.TEAM_LOCUSTFILES,
                obj=team,
                team_id=team.pk,
                details={"allow_locustfiles": after["allow_locustfiles"]},
            )
        )
    return entries


def audit_allowlist(*, entry: Any, action: str, before: str = "") -> AuditEntry:
    details: dict[str, Any] = {"value": entry.value, "note": entry.note}
    if before and before != entry.value:
        details["previous"] = before
    return audit_record(action=action, obj=entry, details=details)


# -- purging -------------------------------------------------------------------------------------
def audit_purge(*, now: dt.datetime | None = None, retention_days: int | None = None) -> int:
    """Delete entries older than the retention (SCALETEST_AUDIT_RETENTION_DAYS; 0 keeps all)."""
    days = settings.SCALETEST_AUDIT_RETENTION_DAYS if retention_days is None else retention_days
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    deleted, _ = AuditEntry.objects.filter(created_at__lt=cutoff).delete()
    return deleted
