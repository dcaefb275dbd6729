from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from runs import access
from runs.forms.scenarios import ScenarioForm, scenario_variables_check, source_formset, step_formset
from runs.models import Scenario
from runs.selectors import catalog as selectors_catalog
from runs.services import catalog
from runs.services.scenarios import locustfile_allowed
from runs.views._common import confirm_delete
from runs.views.onboarding import saved_message


@require_GET
@access.team_view()
def scenario_list(request: access.TeamRequest) -> HttpResponse:
    return render(
        request, "runs/scenario_list.html", {"scenarios": selectors_catalog.scenario_list(team=request.team)}
    )


def _edit(request: access.TeamRequest, scenario: Scenario | None) -> HttpResponse:
    post = request.POST if request.method == "POST" else None
    allowed = locustfile_allowed(team=scenario.team if scenario else request.team)
    form = ScenarioForm(post, instance=scenario, locustfiles_allowed=allowed)
    steps = step_formset(data=post, scenario=scenario)
    sources = source_formset(data=post, files=request.FILES if post is not None else None, scenario=scenario)
    if post is not None and form.is_valid():
        # A locustfile scenario has neither steps nor data sources: the rows on the page are ignored.
        is_locustfile = form.cleaned_data["kind"] == Scenario.Kind.LOCUSTFILE
        parts_valid = is_locustfile or all(
            [steps.is_valid(), sources.is_valid()]
        )  # both, to show every error
        if parts_valid and (is_locustfile or scenario_variables_check(form, steps, sources)):
            try:
                saved = catalog.scenario_save(
                    data=form.cleaned_data,
                    steps=[] if is_locustfile else steps.steps(),
                    sources=[] if is_locustfile else sources.sources(),
                    scenario=scenario,
                    team=request.team,
                    user=request.user,
                )
            except catalog.CatalogError as exc:
                form.add_error(None, str(exc))
            else:
                what = "a locustfile" if is_locustfile else f"{len(steps.steps())} step(s)"
                text = f"Saved scenario “{saved}” with {what}."
                messages.success(request, saved_message(team=saved.team, text=text, saved="scenario"))
                return redirect("runs-scenario-list")
    return render(
        request,
        "runs/scenario_form.html",
        {
            "form": form,
            "steps": steps,
            "sources": sources,
            "scenario": scenario,
            "locustfiles_allowed": allowed,
        },
    )


@require_http_methods(["GET", "POST"])
@access.team_view(access.EDITOR)
def scenario_create(request: access.TeamRequest) -> HttpResponse:
    return _edit(request, None)


@require_http_methods(["GET", "POST"])
@access.team_view()
def scenario_edit(request: access.TeamRequest, pk: int) -> HttpResponse:
    return _edit(request, access.object_for(request, Scenario.objects.all(), pk, role=access.EDITOR))


@require_http_methods(["GET", "POST"])
@access.team_view()
def scenario_delete(request: HttpRequest, pk: int) -> HttpResponse:
    scenario = access.object_for(request, Scenario.objects.all(), pk, role=access.EDITOR)
    return confirm_delete(
        request,
        obj=scenario,
        what="scenario",
        delete=lambda: catalog.scenario_delete(scenario=scenario),
        list_url=reverse("runs-scenario-list"),
        back_url=reverse("runs-scenario-edit", args=[scenario.pk]),
    )
