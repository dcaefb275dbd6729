"""Teams: yours, their members; admins add, change and remove members."""

# No `from __future__ import annotations`: ninja reads the handlers' annotations at import.

from django.http import HttpRequest
from ninja import Router
from ninja.errors import HttpError
from ninja.responses import Status

from runs import access
from runs.api.schemas.common import Error
from runs.api.schemas.teams import MemberIn, MemberOut, MemberRoleIn, TeamIn, TeamOut
from runs.models import Membership, Team
from runs.services import teams as svc

router = Router(tags=["teams"])


def _team(request: HttpRequest, pk: int, *, role: str) -> Team:
    membership = access.membership_of(user=request.user, team_id=pk)
    if membership is None:
        raise HttpError(404, f"No team #{pk}.")
    if not membership.can(role):
        raise HttpError(403, f"Only admins of “{membership.team}” can do that.")
    return membership.team


def _member(m: Membership) -> dict[str, object]:
    return {"id": m.pk, "user_id": m.user_id, "username": m.user.get_username(), "role": m.role}


@router.get("", response=list[TeamOut], url_name="teams-list", summary="Your teams and your role in each")
def team_list(request: HttpRequest) -> list[dict[str, object]]:
    rows = (
        Membership.objects.filter(user=access.signed_in(request))
        .select_related("team")
        .order_by("team__name", "team_id")
    )
    return [{"id": m.team_id, "name": m.team.name, "role": m.role} for m in rows]


@router.post(
    "",
    response={201: TeamOut, 400: Error},
    url_name="teams-create",
    summary="Create a team (you are its admin)",
)
def team_create(request: HttpRequest, payload: TeamIn) -> Status[dict[str, object]]:
    try:
        team = svc.team_create(name=payload.name, user=request.user)
    except svc.TeamError as exc:
        raise HttpError(400, str(exc)) from None
    return Status(201, {"id": team.pk, "name": team.name, "role": Membership.Role.ADMIN})


@router.get("/{int:team_id}/members", response=list[MemberOut], url_name="teams-members")
def member_list(request: HttpRequest, team_id: int) -> list[dict[str, object]]:
    team = _team(request, team_id, role=access.VIEWER)
    return [_member(m) for m in team.memberships.select_related("user").order_by("user__username")]


@router.post(
    "/{int:team_id}/members",
    response={201: MemberOut, 400: Error},
    url_name="teams-member-add",
    summary="Add an existing user to the team (admins)",
)
def member_add(request: HttpRequest, team_id: int, payload: MemberIn) -> Status[dict[str, object]]:
    team = _team(request, team_id, role=access.ADMIN)
    try:
        membership = svc.membership_add(team=team, username=payload.username, role=payload.role)
    except svc.TeamError as exc:
        raise HttpError(400, str(exc)) from None
    return Status(201, _member(membership))


def _membership(request: HttpRequest, team_id: int, member_id: int) -> Membership:
    team = _team(request, team_id, role=access.ADMIN)
    membership = Membership.objects.select_related("user").filter(team=team, pk=member_id).first()
    if membership is None:
        raise HttpError(404, f"No member #{member_id} in this team.")
    return membership


@router.patch(
    "/{int:team_id}/members/{int:member_id}",
    response={200: MemberOut, 409: Error},
    url_name="teams-member",
    summary="Change a member's role (admins)",
)
def member_role(
    request: HttpRequest, team_id: int, member_id: int, payload: MemberRoleIn
) -> dict[str, object]:
    membership = _membership(request, team_id, member_id)
    try:
        svc.membership_set_role(membership=membership, role=payload.role)
    except svc.TeamError as exc:
        raise HttpError(409, str(exc)) from None
    return _member(membership)


@router.delete(
    "/{int:team_id}/members/{int:member_id}",
    response={204: None, 409: Error},
    url_name="teams-member-remove",
    summary="Remove a member (admins)",
)
def member_remove(request: HttpRequest, team_id: int, member_id: int) -> Status[None]:
    membership = _membership(request, team_id, member_id)
    try:
        svc.membership_remove(membership=membership)
    except svc.TeamError as exc:
        raise HttpError(409, str(exc)) from None
    return Status(204, None)
