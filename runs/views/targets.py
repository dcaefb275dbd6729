from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from runs import access
from runs.forms.targets import TargetForm
from runs.models import Target
from runs.selectors import catalog as selectors_catalog
from runs.services import catalog
from runs.views._common import confirm_delete
from runs.views.onboarding import saved_message


@require_GET
@access.team_view()
def target_list(request: access.TeamRequest) -> HttpResponse:
    return render(
        request, "runs/target_list.html", {"targets": selectors_catalog.target_list(team=request.team)}
    )


@require_http_methods(["GET", "POST"])
@access.team_view(access.EDITOR)
def target_create(request: access.TeamRequest) -> HttpResponse:
    form = TargetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        target = catalog.target_create(team=request.team, data=form.cleaned_data, user=request.user)
        messages.success(
            request, saved_message(team=request.team, text=f"Created target “{target}”.", saved="target")
        )
        return redirect("runs-target-list")
    return render(request, "runs/target_form.html", {"form": form, "target": None})


@require_http_methods(["GET", "POST"])
@access.team_view()
def target_edit(request: HttpRequest, pk: int) -> HttpResponse:
    target = access.object_for(request, Target.objects.all(), pk, role=access.EDITOR)
    form = TargetForm(request.POST or None, instance=target)
    if request.method == "POST" and form.is_valid():
        catalog.target_update(target=target, data=form.cleaned_data)
        messages.success(
            request, saved_message(team=target.team, text=f"Saved target “{target}”.", saved="target")
        )
        return redirect("runs-target-list")
    return render(request, "runs/target_form.html", {"form": form, "target": target})


@require_http_methods(["GET", "POST"])
@access.team_view()
def target_delete(request: HttpRequest, pk: int) -> HttpResponse:
    target = access.object_for(request, Target.objects.all(), pk, role=access.EDITOR)
    return confirm_delete(
        request,
        obj=target,
        what="target",
        delete=lambda: catalog.target_delete(target=target),
        list_url=reverse("runs-target-list"),
        back_url=reverse("runs-target-edit", args=[target.pk]),
    )
