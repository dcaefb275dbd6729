from __future__ import annotations

import html

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from runs import access
from runs.figures import runs as figures
from runs.forms.profiles import ProfileForm, ProfileParamsForm
from runs.models import LoadProfile
from runs.selectors import catalog as selectors_catalog
from runs.services import catalog
from runs.views._common import confirm_delete
from runs.views.onboarding import saved_message


@require_GET
@access.team_view()
def profile_list(request: access.TeamRequest) -> HttpResponse:
    rows = [
        (p, selectors_catalog.profile_preview_of(profile=p))
        for p in selectors_catalog.profile_list(team=request.team)
    ]
    return render(request, "runs/profile_list.html", {"rows": rows})


def _edit(request: access.TeamRequest, profile: LoadProfile | None) -> HttpResponse:
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            saved = catalog.profile_save(
                name=form.cleaned_data["name"],
                kind=form.cleaned_data["kind"],
                params=form.params,
                profile=profile,
                team=request.team,
                user=request.user,
            )
            text = f"Saved load profile “{saved}”."
            messages.success(request, saved_message(team=saved.team, text=text, saved="profile"))
            advice = selectors_catalog.profile_preview(kind=saved.kind, params=saved.params)["step_advice"]
            if advice:
                messages.warning(request, advice)
            return redirect("runs-profile-edit", pk=saved.pk)
    else:
        form = ProfileForm.for_profile(profile) if profile else ProfileForm()
    preview = selectors_catalog.profile_preview_of(profile=profile) if profile else None
    fig = (
        figures.profile_figure(preview["x"], preview["y"], unit=preview["unit"])
        if preview
        else figures.profile_figure([], [])
    )
    context = {"form": form, "profile": profile, "preview": preview, "fig": fig}
    return render(request, "runs/profile_form.html", context)


@require_http_methods(["GET", "POST"])
@access.team_view(access.EDITOR)
def profile_create(request: access.TeamRequest) -> HttpResponse:
    return _edit(request, None)


@require_http_methods(["GET", "POST"])
@access.team_view()
def profile_edit(request: access.TeamRequest, pk: int) -> HttpResponse:
    return _edit(request, access.object_for(request, LoadProfile.objects.all(), pk, role=access.EDITOR))


@require_http_methods(["GET", "POST"])
@access.team_view()
def profile_delete(request: HttpRequest, pk: int) -> HttpResponse:
    profile = access.object_for(request, LoadProfile.objects.all(), pk, role=access.EDITOR)
    return confirm_delete(
        request,
        obj=profile,
        what="load profile",
        delete=lambda: catalog.profile_delete(profile=profile),
        list_url=reverse("runs-profile-list"),
        back_url=reverse("runs-profile-edit", args=[profile.pk]),
    )


@require_GET
@access.team_view()
def profile_preview(request: HttpRequest) -> JsonResponse:
    """The planned curve of the parameters in the query string, as the profile form draws it."""
    form = ProfileParamsForm(request.GET)
    if not form.is_valid():
        errors = {html.escape(k): html.escape(" ".join(str(e) for e in v)) for k, v in form.errors.items()}
        return JsonResponse({"ok": False, "errors": errors})
    preview = selectors_catalog.profile_preview(kind=form.cleaned_data["kind"], params=form.params)
    return JsonResponse({"ok": True, **preview})
