"""Who may see and change what: every object belongs to a team, users act through memberships.

* Lists and new objects use the request's **current team** (chosen in the navigation bar, kept
  in the session; the first team by name when none was chosen).
* A single object is found among the teams the user belongs to, whatever the current team, so
  a link a team mate pastes opens. Another team's object is a 404 — the same answer as an id
  that does not exist, so ids of other teams cannot be probed.
* Changing an object needs a role in *its* team (editor: create, edit and run; admin:
  members, settings, share links); too low a role is a 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect

from runs.models import Membership, Team

if TYPE_CHECKING:
    from django.contrib.auth.models import User

VIEWER = Membership.Role.VIEWER
EDITOR = Membership.Role.EDITOR
ADMIN = Membership.Role.ADMIN
SESSION_KEY = "scaletest_team_id"
# The largest id a row can have (BigAutoField), on either database. SQLite's driver cannot even
# send a larger integer (OverflowError, a 500, where PostgreSQL answers "no such row"), and
# Django guards only plain integer comparisons, not foreign keys or ``__in``: ids typed into
# URLs and forms are checked with ``is_id`` before they reach such a query.
MAX_ID = 2**63 - 1


def roles_at_least(role: str) -> list[str]:
    return [r for r, rank in Membership.RANK.items() if rank >= Membership.RANK[role]]


def team_ids(*, user: Any, role: str = VIEWER) -> QuerySet[Membership, Any]:
    """The ids of the teams where ``user`` has ``role`` or more, as a subquery."""
    if not getattr(user, "is_authenticated", False):
        return Membership.objects.none().values("team_id")
    return Membership.objects.filter(user=user, role__in=roles_at_least(role)).values("team_id")


def visible[M: Model](queryset: QuerySet[M], *, user: Any, role: str = VIEWER) -> QuerySet[M]:
    """``queryset`` narrowed to the teams of ``user`` (with ``role`` or more)."""
    return queryset.filter(team_id__in=team_ids(user=user, role=role))


def is_id(value: int) -> bool:
    """Whether ``value`` could be the id of a row (see ``MAX_ID``)."""
    return 0 < value <= MAX_ID


def membership_of(*, user: Any, team_id: int) -> Membership | None:
    if not getattr(user, "is_authenticated", False) or not is_id(team_id):
        return None
    return Membership.objects.select_related("team").filter(user=user, team_id=team_id).first()


def object_for[M: Model](request: HttpRequest, queryset: QuerySet[M], pk: Any, *, role: str = VIEWER) -> M:
    """The object ``pk`` of ``queryset`` if the user's teams hold it (else 404) and the user's
    role in its team is at least ``role`` (else 403)."""
    try:
        obj = visible(queryset, user=request.user).get(pk=pk)
    except (ObjectDoesNotExist, ValueError, TypeError):
        raise Http404(f"No {queryset.model._meta.verbose_name} #{pk}.") from None
    if role != VIEWER:
        membership = membership_of(user=request.user, team_id=obj.team_id)  # type: ignore[attr-defined]
        if membership is None or not membership.can(role):
            raise PermissionDenied(f"Your role in this team does not allow that (needs {role}).")
    return obj


class TeamRequest(HttpRequest):
    """The request a ``team_view`` gets: its current team and the user's membership in it."""

    team: Team
    membership: Membership


def signed_in(request: HttpRequest) -> User:
    """``request.user`` where signing in is required (``login_required``, the API's AUTH)."""
    if not request.user.is_authenticated:
        raise PermissionDenied("Sign in first.")
    return request.user


def _my_memberships(request: HttpRequest) -> list[Membership]:
    """The user's memberships with their teams, one query per request."""
    if not hasattr(request, "_scaletest_memberships"):
        request._scaletest_memberships = (  # type: ignore[attr-defined]
            list(
                Membership.objects.filter(user=request.user)
                .select_related("team")
                .order_by("team__name", "team_id")
            )
            if request.user.is_authenticated
            else []
        )
    return request._scaletest_memberships  # type: ignore[attr-defined,no-any-return]


def current_membership(request: HttpRequest) -> Membership | None:
    """The membership of the team the user works in now: the one chosen in the session, else
    the first by team name; None for a user in no team."""
    mine = _my_memberships(request)
    chosen = request.session.get(SESSION_KEY) if mine else None
    return next((m for m in mine if m.team_id == chosen), mine[0] if mine else None)


def switch_team(request: HttpRequest, *, team_id: int) -> Team:
    """Make ``team_id`` the current team; 404 unless the user belongs to it."""
    membership = membership_of(user=request.user, team_id=team_id)
    if membership is None:
        raise Http404("No such team.")
    request.session[SESSION_KEY] = membership.team_id
    return membership.team


def team_view(
    role: str = VIEWER,
) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """Login required, a current team required (else: the page that creates one), and
    ``role`` or more in it. Sets ``request.team`` and ``request.membership``."""

    def decorate(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            membership = current_membership(request)
            if membership is None:
                messages.info(
                    request, "You are not in a team yet: create one, or ask a team admin to add you."
                )
                return redirect("teams-create")
            if not membership.can(role):
                raise PermissionDenied(
                    f"Your role in “{membership.team}” does not allow that (needs {role})."
                )
            request.team = membership.team  # type: ignore[attr-defined]
            request.membership = membership  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorate


def teams_context(request: HttpRequest) -> dict[str, Any]:
    """Template context: the user's teams and the current one, for the navigation bar."""
    if not getattr(request.user, "is_authenticated", False):
        return {}
    return {"current_membership": current_membership(request), "my_memberships": _my_memberships(request)}


def membership_in(request: HttpRequest, team_id: int) -> Membership | None:
    """The user's membership in ``team_id`` from the memberships already read for this request
    (no query after the first), e.g. to show buttons only to those whose role allows them."""
    return next((m for m in _my_memberships(request) if m.team_id == team_id), None)
