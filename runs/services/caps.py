"""Caps on what runs may ask for: users, duration, concurrent runs, a per-target daily budget.

Every function takes a :class:`Scope`, the set of runs that share the caps. A run is checked
against two: :data:`GLOBAL` (the server's settings, over every run: what the worker fleet can
take) and its team's (:func:`team_scope`: the team's runs, with the caps an operator set on the
team, never above the server's).
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet, Sum
from django.utils import timezone

from runs.core.safety import Refused
from runs.models import Run, RunSecond, Team
from runs.selectors.seconds import run_second_values

BUDGET_WINDOW = dt.timedelta(hours=24)


@dataclass(frozen=True)
class Scope:
    """Whose runs count together against the caps."""

    name: str = "global"
    team_id: int | None = None

    def runs(self) -> QuerySet[Any]:
        return Run.objects.all() if self.team_id is None else Run.objects.filter(team_id=self.team_id)


GLOBAL = Scope()


def team_scope(*, team_id: int) -> Scope:
    return Scope(name=f"team-{team_id}", team_id=team_id)


@dataclass(frozen=True)
class Caps:
    max_users: int
    max_seconds: int
    max_concurrent_runs: int
    target_daily_user_seconds: int  # 0: no budget


def caps_for(*, scope: Scope) -> Caps:
    server = Caps(
        max_users=settings.SCALETEST_MAX_USERS,
        max_seconds=settings.SCALETEST_MAX_RUN_SECONDS,
        max_concurrent_runs=settings.SCALETEST_MAX_CONCURRENT_RUNS,
        target_daily_user_seconds=settings.SCALETEST_TARGET_DAILY_USER_SECONDS,
    )
    if scope.team_id is None:
        return server
    team: Mapping[str, Any] = (
        Team.objects.filter(pk=scope.team_id)
        .values("max_users", "max_run_seconds", "max_concurrent_runs", "target_daily_user_seconds")
        .first()
        or {}
    )

    def lower(own: int | None, limit: int, *, zero_is_none: bool = False) -> int:
        if own is None:
            return limit
        if zero_is_none and not limit:
            return own
        return min(own, limit)

    return Caps(
        max_users=lower(team.get("max_users"), server.max_users),
        max_seconds=lower(team.get("max_run_seconds"), server.max_seconds),
        max_concurrent_runs=lower(team.get("max_concurrent_runs"), server.max_concurrent_runs),
        target_daily_user_seconds=lower(
            team.get("target_daily_user_seconds"), server.target_daily_user_seconds, zero_is_none=True
        ),
    )


def scope_lock(*, scope: Scope) -> None:
    """Serialise cap checks of one scope until the end of the current transaction.

    PostgreSQL: an advisory transaction lock, so two runs started at once cannot both take the
    last slot. SQLite (embedded mode) already serialises writing transactions (IMMEDIATE).
    """
    if connection.vendor == "postgresql":
        key = zlib.crc32(f"scaletest-caps:{scope.name}".encode())
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def planned_user_seconds(snapshot: dict[str, Any]) -> float:
    """Upper bound of a run's cost: its peak users (or iterations in flight) for its whole duration."""
    profile = snapshot.get("profile") or {}
    return float(profile.get("peak_users") or 0) * float(profile.get("duration") or 0)


def target_user_seconds_used(*, scope: Scope, target_id: int, now: dt.datetime | None = None) -> float:
    """User-seconds spent on a target in the last 24 h: measured for ended runs, planned for
    active ones (they may still use all of it)."""
    since = (now or timezone.now()) - BUDGET_WINDOW
    runs = scope.runs().filter(snapshot__target__id=target_id, created_at__gte=since)
    active = runs.filter(status__in=Run.ACTIVE)
    used = sum(planned_user_seconds(s) for s in active.values_list("snapshot", flat=True))
    ended = runs.exclude(status__in=Run.ACTIVE)
    measured = RunSecond.objects.filter(run__in=ended).aggregate(total=Sum("users"))["total"] or 0
    # Packed runs (``runs.services.packing``) keep their seconds in blocks.
    for run in ended.filter(packed_at__isnull=False).only("pk", "packed_at"):
        measured += sum(users for (users,) in run_second_values(run=run, fields=("users",)))
    return used + float(measured)


def caps_check(*, scope: Scope, snapshot: dict[str, Any]) -> None:
    """Raise :class:`Refused` saying which cap a new run of ``snapshot`` would exceed."""
    caps = caps_for(scope=scope)
    profile = snapshot["profile"]
    users, seconds = int(profile.get("peak_users") or 0), float(profile.get("duration") or 0)
    if users > caps.max_users:
        raise Refused(f"The profile asks for {users} users; the cap is {caps.max_users}.")
    if seconds > caps.max_seconds:
        raise Refused(f"The profile lasts {seconds:.0f} s; the cap is {caps.max_seconds} s.")
    active = scope.runs().filter(status__in=Run.ACTIVE).count()
    if active >= caps.max_concurrent_runs:
        raise Refused(
            f"{active} runs are already queued or running; "
            f"at most {caps.max_concurrent_runs} may run at once. "
            "Start this one when one of them has ended."
        )
    if caps.target_daily_user_seconds:
        used = target_user_seconds_used(scope=scope, target_id=snapshot["target"]["id"])
        cost = planned_user_seconds(snapshot)
        if used + cost > caps.target_daily_user_seconds:
            left = max(0.0, caps.target_daily_user_seconds - used)
            raise Refused(
                f"This run would use up to {cost:,.0f} user-seconds on the target, "
                f"but only {left:,.0f} of its "
                f"daily budget of {caps.target_daily_user_seconds:,} are left (last 24 h)."
            )
