"""A target's metrics sources: add, edit and delete (editors of the target's team)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from runs import access
from runs.forms.metric_sources import MetricSourceForm
from runs.models import Target
from runs.services import metric_sources


@require_http_methods(["GET", "POST"])
@access.team_view()
def metric_source_create(request: HttpRequest, pk: int) -> HttpResponse:
    target = access.object_for(request, Target.objects.all(), pk, role=access.EDITOR)
    form = MetricSourceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        source = metric_sources.metric_source_create(target=target, data=form.cleaned_data)
        messages.success(request, f"Added the metrics source “{source}”.")
        return redirect("runs-target-edit", target.pk)
    return render(request, "runs/metric_source_form.html", {"form": form, "target": target, "source": None})


@require_http_methods(["GET", "POST"])
@access.team_view()
def metric_source_edit(request: HttpRequest, pk: int, source_pk: int) -> HttpResponse:
    target = access.object_for(request, Target.objects.all(), pk, role=access.EDITOR)
    source = get_object_or_404(target.metric_sources.all(), pk=source_pk)
    form = MetricSourceForm(request.POST or None, instance=source)
    if request.method == "POST" and form.is_valid():
        metric_sources.metric_source_update(source=source, data=form.cleaned_data)
        messages.success(request, f"Saved the metrics source “{source}”.")
        return redirect("runs-target-edit", target.pk)
    return render(request, "runs/metric_source_form.html", {"form": form, "target": target, "source": source})


@require_POST
@access.team_view()
def metric_source_delete(request: HttpRequest, pk: int, source_pk: int) -> HttpResponse:
    target = access.object_for(request, Target.objects.all(), pk, role=access.EDITOR)
    source = get_object_or_404(target.metric_sources.all(), pk=source_pk)
    metric_sources.metric_source_delete(source=source)
    messages.success(request, f"Deleted the metrics source “{source}”.")
    return redirect("runs-target-edit", target.pk)
