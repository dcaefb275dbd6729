"""A team's notification hooks: admins add, edit, test and delete them; every member sees the
hooks (without URLs, recipients or secrets) and the delivery log on the team page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from runs import access
from runs.forms.notifications import ChannelForm
from runs.models import NotificationChannel, Team
from runs.services import notifications
from runs.views.teams import _team_for


def _hook(team: Team, hook: int) -> NotificationChannel:
    return get_object_or_404(NotificationChannel, pk=hook, team=team)


def _save(request: HttpRequest, form: ChannelForm, team: Team, channel: NotificationChannel | None) -> Any:
    if not form.is_valid():
        return None
    data = form.cleaned_data
    try:
        if channel is None:
            return notifications.channel_create(team=team, user=request.user, **data)
        return notifications.channel_update(channel=channel, **data)
    except notifications.NotifyError as exc:
        form.add_error(exc.field, str(exc))
        return None


@require_http_methods(["GET", "POST"])
@login_required
def hook_create(request: HttpRequest, pk: int) -> HttpResponse:
    team, _ = _team_for(request, pk, role=access.ADMIN)
    form = ChannelForm(request.POST or None)
    if request.method == "POST":
        channel = _save(request, form, team, None)
        if channel is not None:
            messages.success(request, f"Added the hook “{channel}”. Send a test delivery to check it.")
            return redirect("teams-hook-edit", pk=team.pk, hook=channel.pk)
    return render(request, "runs/team_hook_form.html", {"team": team, "form": form, "hook": None})


@require_http_methods(["GET", "POST"])
@login_required
def hook_edit(request: HttpRequest, pk: int, hook: int) -> HttpResponse:
    team, _ = _team_for(request, pk, role=access.ADMIN)
    channel = _hook(team, hook)
    form = ChannelForm(request.POST) if request.method == "POST" else ChannelForm.for_channel(channel)
    if request.method == "POST" and _save(request, form, team, channel) is not None:
        messages.success(request, f"Saved the hook “{channel}”.")
        return redirect("teams-detail", pk=team.pk)
    deliveries = notifications.team_deliveries(team=team, channel=channel)
    return render(
        request,
        "runs/team_hook_form.html",
        {"team": team, "form": form, "hook": channel, "deliveries": deliveries},
    )


@require_POST
@login_required
def hook_test(request: HttpRequest, pk: int, hook: int) -> HttpResponse:
    team, _ = _team_for(request, pk, role=access.ADMIN)
    channel = _hook(team, hook)
    delivery = notifications.delivery_test(channel=channel, user=request.user)
    messages.success(
        request,
        f"Test delivery #{delivery.pk} to “{channel}” is queued; its outcome appears in the delivery log.",
    )
    return redirect("teams-detail", pk=team.pk)


@require_POST
@login_required
def hook_rotate_secret(request: HttpRequest, pk: int, hook: int) -> HttpResponse:
    team, _ = _team_for(request, pk, role=access.ADMIN)
    channel = notifications.channel_rotate_secret(channel=_hook(team, hook))
    messages.success(request, f"New signing secret for “{channel}”; update the receiver.")
    return redirect("teams-hook-edit", pk=team.pk, hook=channel.pk)


@require_POST
@login_required
def hook_delete(request: HttpRequest, pk: int, hook: int) -> HttpResponse:
    team, _ = _team_for(request, pk, role=access.ADMIN)
    channel = _hook(team, hook)
    notifications.channel_delete(channel=channel)
    messages.success(request, f"Deleted the hook “{channel}” and its delivery log.")
    return redirect("teams-detail", pk=team.pk)
