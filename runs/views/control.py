"""Live control on the run page: a new level for a running constant run, or a stop early."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from runs import access
from runs.forms.control import RunControlForm
from runs.models import Run
from runs.services.control import ControlRefused, run_control_set, run_stop_early


@require_POST
@access.team_view()
def run_control(request: HttpRequest, pk: int) -> HttpResponse:
    """Editors set the running run's new level; a refusal changes nothing and says why."""
    run = access.object_for(request, Run.objects.all(), pk, role=access.EDITOR)
    form = RunControlForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the new level as a number.")
        return redirect(run)
    try:
        entry = run_control_set(run=run, value=form.cleaned_data["value"], user=request.user)
    except ControlRefused as exc:
        messages.error(request, str(exc))
        return redirect(run)
    unit = "iterations/s" if run.is_open_model else "users"
    messages.success(
        request,
        f"Run #{run.pk} goes to {entry.value:g} {unit}; the load generator applies it within about a second.",
    )
    return redirect(run)


@require_POST
@access.team_view()
def run_stop_early_view(request: HttpRequest, pk: int) -> HttpResponse:
    run = access.object_for(request, Run.objects.all(), pk, role=access.EDITOR)
    try:
        run_stop_early(run=run, user=request.user)
    except ControlRefused as exc:
        messages.error(request, str(exc))
        return redirect(run)
    messages.success(request, f"Run #{run.pk} is stopping early; every measured second is kept and analysed.")
    return redirect(run)
