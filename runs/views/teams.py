"""Teams: create one, switch between yours, and (admins) manage members and settings."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from runs import access
from runs.forms.teams import MemberAddForm, MemberRoleForm, TeamForm, TeamSwitchForm
from runs.models import Membership, Team
from runs.services import caps, notifications, teams


@require_http_methods(["GET", "POST"])
@login_required
def team_create(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            team = teams.team_create(name=form.cleaned_data["name"], user=request.user)
        except teams.TeamError as exc:
            form.add_error("name", str(exc))
        else:
            access.switch_team(request, team_id=team.pk)
            messages.success(request, f"Created team “{team}”; you are its admin.")
            return redirect("teams-detail", pk=team.pk)
    return render(request, "runs/team_create.html", {"form": form})


@require_POST
@login_required
def team_switch(request: HttpRequest) -> HttpResponse:
    form = TeamSwitchForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of your teams.")
        return redirect("runs-dashboard")
    team = access.switch_team(request, team_id=form.cleaned_data["team"])
    messages.success(request, f"Now working in “{team}”.")
    target = form.cleaned_data["next"]
    # Object pages of the old team would be reachable anyway; lists are what changes.
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("runs-dashboard")


def _team_for(request: HttpRequest, pk: int, *, role: str) -> tuple[Team, Membership]:
    """The team ``pk`` if the user is in it (else 404) with ``role`` or more (else 403)."""
    membership = access.membership_of(user=request.user, team_id=pk)
    if membership is None:
        raise Http404("No such team.")
    if not membership.can(role):
        raise PermissionDenied(f"Only admins of “{membership.team}” can do that.")
    return membership.team, membership


@require_GET
@login_required
def team_list(request: HttpRequest) -> HttpResponse:
    return render(request, "runs/team_list.html", {})


@require_http_methods(["GET", "POST"])
@login_required
def team_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Members and settings. Everyone in the team sees them; admins change them."""
    team, membership = _team_for(request, pk, role=access.VIEWER)
    rename = TeamForm(initial={"name": team.name})
    add = MemberAddForm()
    if request.method == "POST":
        team, membership = _team_for(request, pk, role=access.ADMIN)
        if "username" in request.POST:
            add = MemberAddForm(request.POST)
            if add.is_valid():
                try:
                    added = teams.membership_add(team=team, **add.cleaned_data)
                except teams.TeamError as exc:
                    add.add_error("username", str(exc))
                else:
                    messages.success(request, f"Added “{added.user}” as {added.get_role_display().lower()}.")
                    return redirect("teams-detail", pk=team.pk)
        else:
            rename = TeamForm(request.POST)
            if rename.is_valid():
                teams.team_rename(team=team, name=rename.cleaned_data["name"])
                messages.success(request, f"Renamed the team to “{team}”.")
                return redirect("teams-detail", pk=team.pk)
    context = {
        "team": team,
        "membership": membership,
        "members": team.memberships.select_related("user").order_by("user__username"),
        "rename_form": rename,
        "add_form": add,
        "roles": Membership.Role.choices,
        "caps": caps.caps_for(scope=caps.team_scope(team_id=team.pk)),
        # Every member sees the hooks (names, kinds, events) and the delivery log; admins manage.
        "hooks": notifications.team_hooks(team=team),
        "deliveries": notifications.team_deliveries(team=team),
        "can_manage_hooks": membership.can(access.ADMIN),
    }
    return render(request, "runs/team_detail.html", context)


@require_POST
@login_required
def team_member(request: HttpRequest, pk: int, member: int) -> HttpResponse:
    """Change a member's role (``role``) or remove them (``remove``); admins only."""
    team, _ = _team_for(request, pk, role=access.ADMIN)
    target = get_object_or_404(Membership.objects.select_related("user"), pk=member, team=team)
    try:
        if "remove" in request.POST:
            teams.membership_remove(membership=target)
            messages.success(request, f"Removed “{target.user}” from “{team}”.")
        else:
            form = MemberRoleForm(request.POST)
            if not form.is_valid():
                messages.error(request, "Choose viewer, editor or admin.")
            else:
                teams.membership_set_role(membership=target, role=form.cleaned_data["role"])
                messages.success(request, f"“{target.user}” is now {target.get_role_display().lower()}.")
    except teams.TeamError as exc:
        messages.error(request, str(exc))
    if not access.membership_of(user=request.user, team_id=team.pk):
        return redirect("runs-dashboard")
    return redirect("teams-detail", pk=team.pk)
