"""Teams and their members. Every team keeps at least one admin."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from runs.models import Membership, Team
from runs.services.audit import Action, audit_record


class TeamError(Exception):
    """A change to a team cannot be made; the message is meant for the user."""


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise TeamError("A team needs a name.")
    if len(name) > 200:
        raise TeamError("A team name has at most 200 characters.")
    return name


@transaction.atomic
def team_create(*, name: str, user: Any) -> Team:
    """A new team with ``user`` as its first admin."""
    team = Team.objects.create(name=_check_name(name))
    Membership.objects.create(team=team, user=user, role=Membership.Role.ADMIN)
    audit_record(action=Action.TEAM_CREATE, obj=team, team_id=team.pk, actor=user)
    return team


def team_rename(*, team: Team, name: str) -> Team:
    team.name = _check_name(name)
    team.save(update_fields=["name"])
    return team


def _check_role(role: str) -> str:
    if role not in Membership.Role.values:
        raise TeamError(f"Unknown role “{role}”; choose viewer, editor or admin.")
    return role


@transaction.atomic
def membership_add(*, team: Team, username: str, role: str) -> Membership:
    _check_role(role)
    user = get_user_model().objects.filter(username=(username or "").strip()).first()
    if user is None:
        raise TeamError(f"There is no user “{username}”. An operator creates accounts in the admin.")
    if Membership.objects.filter(team=team, user=user).exists():
        raise TeamError(f"“{user}” is already in “{team}”.")
    membership = Membership.objects.create(team=team, user=user, role=role)
    audit_record(
        action=Action.MEMBER_ADD, obj=membership, details={"user": user.get_username(), "role": role}
    )
    return membership


def _other_admins(membership: Membership) -> bool:
    """Whether the team has an admin besides ``membership``, holding its admin rows until the
    end of the transaction.

    Every admin row is locked, this one included and in one order: two admins stepping down at
    once then wait for each other, and the second sees the first is no longer admin (PostgreSQL
    re-reads a row it waited for). Locking only the others' rows deadlocked there. SQLite has no
    row locks: its IMMEDIATE transactions (settings) run the two one after the other.
    """
    admins = (
        Membership.objects.select_for_update()
        .filter(team_id=membership.team_id, role=Membership.Role.ADMIN)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return any(pk != membership.pk for pk in admins)


@transaction.atomic
def membership_set_role(*, membership: Membership, role: str) -> Membership:
    _check_role(role)
    if (
        membership.role == Membership.Role.ADMIN
        and role != Membership.Role.ADMIN
        and not _other_admins(membership)
    ):
        raise TeamError("A team keeps at least one admin: make someone else admin first.")
    audit_record(action=Action.MEMBER_ROLE, obj=membership, details={"from": membership.role, "to": role})
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    if membership.role == Membership.Role.ADMIN and not _other_admins(membership):
        raise TeamError("A team keeps at least one admin: make someone else admin first.")
    audit_record(action=Action.MEMBER_REMOVE, obj=membership, details={"role": membership.role})
    membership.delete()
