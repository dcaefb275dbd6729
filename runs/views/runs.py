from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from runs import access, figures, figures_analysis, selectors, selectors_analysis
from runs.models import Run
from runs.services.runs import run_cancel

RUNS_PER_PAGE = 25


@require_GET
@access.team_view()
def run_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.run_list(team=request.team), RUNS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "runs": page.object_list, "compare_max": selectors_analysis.MAX_COMPARE_RUNS}
    return render(request, "runs/run_list.html", context)


@require_GET
@access.team_view()
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = access.object_for(request, Run.objects.select_related("plan"), pk)
    rows = selectors.run_seconds(run=run)
    planned = selectors.snapshot_preview(snapshot=run.snapshot)
    endpoints = selectors.run_endpoint_rows(run=run)
    capacity = selectors_analysis.run_capacity(run=run)
    generator_rows = selectors.run_generator_rows(run=run)
    context = {
        "generator_figs": figures.generators_figures(generator_rows) if generator_rows else None,
        "saturated": figures.saturated_generators(generator_rows),
        "run": run,
        "figs": figures.run_figures(
            rows, planned=planned, open_model=run.is_open_model, thresholds=run.thresholds
        ),
        "endpoints": endpoints,
        "endpoints_fig": figures.endpoints_figure(endpoints) if endpoints and not run.is_active else None,
        "errors": selectors.run_errors(run=run),
        "progress": selectors.run_progress(run=run, latest=rows[-1] if rows else None),
        "summary": {"error_pct": 100.0 * run.error_rate},
        "snapshot": run.snapshot,
        "steps": selectors.snapshot_steps(snapshot=run.snapshot),
        "profile_params": selectors.profile_param_rows(
            kind=(run.snapshot.get("profile") or {}).get("kind", ""),
            params=(run.snapshot.get("profile") or {}).get("params") or {},
        ),
        "capacity": capacity,
        "capacity_figs": (
            figures_analysis.capacity_figures(
                capacity.steps, usl=capacity.usl, knee=capacity.knee, endpoint_steps=capacity.endpoint_steps
            )
            if capacity and capacity.show_capacity
            else None
        ),
        "baseline": selectors_analysis.run_baseline_verdict(run=run),
        "threshold_rows": selectors.run_threshold_rows(run=run),
        "live": {
            "url": reverse("runs-live", args=[run.pk]),
            "tables_url": reverse("runs-tables", args=[run.pk]),
            "after": rows[-1]["t"] if rows else -1,
            "active": run.is_active,
            "charts": figures.TIMESERIES_CHARTS,
        },
    }
    return render(request, "runs/run_detail.html", context)


@never_cache
@require_GET
@access.team_view()
def run_live(request: HttpRequest, pk: int) -> JsonResponse:
    run = access.object_for(request, Run.objects.all(), pk)
    try:
        after = int(request.GET.get("after", "-1"))
    except ValueError:
        after = -1
    return JsonResponse(selectors.run_live_payload(run=run, after=after))


@never_cache
@require_GET
@access.team_view()
def run_tables(request: HttpRequest, pk: int) -> HttpResponse:
    """The endpoint and error tables, re-rendered for the live page (escaped by the templates)."""
    run = access.object_for(request, Run.objects.all(), pk)
    context = {
        "run": run,
        "endpoints": selectors.run_endpoint_rows(run=run),
        "errors": selectors.run_errors(run=run),
    }
    return render(request, "runs/run_detail_tables.html", context)


@require_POST
@access.team_view()
def run_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    run = access.object_for(request, Run.objects.all(), pk, role=access.EDITOR)
    if not run.is_active:
        messages.info(request, f"Run #{run.pk} has already ended ({run.get_status_display().lower()}).")
        return redirect(run)
    run = run_cancel(run=run)
    messages.success(request, f"Cancel requested for run #{run.pk}.")
    return redirect(run)
