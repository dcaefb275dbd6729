from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from runs import access, selectors
from runs.forms import ScenarioForm, step_formset
from runs.models import Scenario
from runs.services import catalog
from runs.views._common import confirm_delete


@require_GET
@access.team_view()
def scenario_list(request: HttpRequest) -> HttpResponse:
    return render(request, "runs/scenario_list.html", {"scenarios": selectors.scenario_list(team=request.team)})


def _edit(request: HttpRequest, scenario: Scenario | None) -> HttpResponse:
    post = request.POST if request.method == "POST" else None
    form = ScenarioForm(post, instance=scenario)
    steps = step_formset(data=post, scenario=scenario)
    if post is not None and form.is_valid() and steps.is_valid():
        try:
            saved = catalog.scenario_save(
                data=form.cleaned_data,
                steps=steps.steps(),
                scenario=scenario,
                team=request.team,
                user=request.user,
            )
        except catalog.CatalogError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Saved scenario “{saved}” with {len(steps.steps())} step(s).")
            return redirect("runs-scenario-list")
    return render(request, "runs/scenario_form.html", {"form": form, "steps": steps, "scenario": scenario})


@require_http_methods(["GET", "POST"])
@access.team_view(access.EDITOR)
def scenario_create(request: HttpRequest) -> HttpResponse:
    return _edit(request, None)


@require_http_methods(["GET", "POST"])
@access.team_view()
def scenario_edit(request: HttpRequest, pk: int) -> HttpResponse:
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
