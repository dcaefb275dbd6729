from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from runs import access
from runs.figures import analysis as figures_analysis
from runs.figures import metrics as figures_metrics
from runs.figures import runs as figures
from runs.figures.capacity_search import search_figure
from runs.figures.control import add_control_markers
from runs.forms.runs import RunAnnotationForm, RunListFilterForm
from runs.models import Run
from runs.selectors import analysis as selectors_analysis
from runs.selectors import catalog as selectors_catalog
from runs.selectors import control as selectors_control
from runs.selectors import metrics as selectors_metrics
from runs.selectors import runs as selectors
from runs.selectors.capacity_search import run_search_view
from runs.services.annotations import run_annotate as run_annotate_service
from runs.services.generators import run_generator_shares
from runs.services.retention import PinError, run_set_pinned
from runs.services.runs import run_cancel

RUNS_PER_PAGE = 25


@require_GET
@access.team_view()
def run_list(request: access.TeamRequest) -> HttpResponse:
    """The team's runs, filtered by ``?tag=&version=&plan=&trigger=`` (invalid filters: 400)."""
    form = RunListFilterForm(request.GET)
    valid = form.is_valid()
    data = form.cleaned_data if valid else {}
    filters = selectors.RunFilter(
        tag=data.get("tag") or "",
        version=data.get("version") or "",
        plan_id=data.get("plan"),
        trigger=data.get("trigger") or "",
    )
    runs = selectors.run_list(team=request.team, filters=filters)
    page = Paginator(runs, RUNS_PER_PAGE).get_page(request.GET.get("page"))
    query = QueryDict(mutable=True)
    for key in ("tag", "version", "plan", "trigger"):
        if data.get(key):
            query[key] = data[key]
    context = {
        "page": page,
        "runs": list(page.object_list),
        "compare_max": selectors_analysis.MAX_COMPARE_RUNS,
        "filter_form": form,
        "filters": filters,
        "filter_query": query.urlencode(),
    }
    return render(request, "runs/run_list.html", context, status=200 if valid else 400)


def run_page_context(
    run: Run, *, live_url: str, tables_url: str, with_baseline: bool = True
) -> dict[str, Any]:
    """What runs/_run_body.html shows; the run page and its shared page both use it."""
    rows = selectors.run_seconds(run=run)
    timeline = selectors_control.run_timeline(run=run)
    # The planned curve of the plan the run followed: the snapshot's, with its live changes.
    planned = selectors_control.planned_curve(
        selectors_control.effective_plan(snapshot=run.snapshot or {}, rows=timeline)
    )
    figs = figures.run_figures(
        rows,
        planned=planned,
        open_model=run.is_open_model,
        thresholds=run.thresholds,
        x_max=max(float(run.planned_seconds or 0), float(run.last_t + 1)),
    )
    add_control_markers(figs, selectors_control.timeline_markers(timeline))
    endpoints = selectors.run_endpoint_rows(run=run)
    capacity = selectors_analysis.run_capacity(run=run)
    generator_rows = selectors.run_generator_rows(run=run)
    metric_rows = selectors_metrics.run_metric_rows(run=run)
    x_max = max(float(run.planned_seconds or 0), float(run.last_t + 1))
    search = run_search_view(run=run)
    return {
        "search": search,
        "search_fig": (
            search_figure(rows, search["steps"], open_model=run.is_open_model, unit=search["unit"])
            if search and search["steps"]
            else None
        ),
        # Server series of the target, under the load charts on the same time axis.
        "metric_figs": figures_metrics.metric_figures(metric_rows, x_max=x_max),
        "metric_warnings": selectors_metrics.run_metric_warnings(rows=metric_rows),
        "metric_rows": metric_rows,
        "server_capacity": figures_metrics.server_capacity(selectors_metrics.run_server_analysis(run=run)),
        "generator_figs": figures.generators_figures(generator_rows) if generator_rows else None,
        "saturated": figures.saturated_generators(generator_rows),
        "generator_shares": run_generator_shares(run=run, cpu_limit=figures.GENERATOR_CPU_LIMIT),
        "run": run,
        "figs": figs,
        "timeline": timeline,
        "endpoints": endpoints,
        "endpoints_fig": figures.endpoints_figure(endpoints) if endpoints and not run.is_active else None,
        "errors": selectors.run_errors(run=run),
        "progress": selectors.run_progress(run=run, latest=rows[-1] if rows else None),
        "summary": {"error_pct": 100.0 * run.error_rate},
        "snapshot": run.snapshot,
        "steps": selectors_catalog.snapshot_steps(snapshot=run.snapshot),
        "profile_params": selectors_catalog.profile_param_rows(
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
        # Another run of the team: never on a shared page.
        "baseline": selectors_analysis.run_baseline_verdict(run=run) if with_baseline else None,
        "threshold_rows": selectors.run_threshold_rows(run=run),
        "live": {
            "url": live_url,
            "tables_url": tables_url,
            "after": rows[-1]["t"] if rows else -1,
            "active": run.is_active,
            "charts": figures.TIMESERIES_CHARTS,
            "statuses": dict(Run.Status.choices),
        },
    }


def _run_page(
    request: HttpRequest, run: Run, *, annotate_form: RunAnnotationForm | None = None
) -> HttpResponse:
    membership = access.membership_in(request, run.team_id)
    context = run_page_context(
        run, live_url=reverse("runs-live", args=[run.pk]), tables_url=reverse("runs-tables", args=[run.pk])
    )
    context.update(
        control=selectors_control.control_panel(run=run, rows=context["timeline"]),
        metrics_live={
            "url": reverse("runs-metrics-live", args=[run.pk]),
            "active": run.is_active,
            "sources": bool((run.snapshot or {}).get("metric_sources")),
        },
        can_edit=bool(membership and membership.can(access.EDITOR)),
        can_share=bool(membership and membership.can(access.ADMIN)),
        annotate_form=annotate_form
        or RunAnnotationForm(
            initial={"version": run.version, "tags": ", ".join(run.tags or []), "notes": run.notes}
        ),
    )
    return render(request, "runs/run_detail.html", context, status=400 if annotate_form is not None else 200)


@require_GET
@access.team_view()
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = access.object_for(request, Run.objects.select_related("plan"), pk)
    return _run_page(request, run)


@require_POST
@access.team_view()
def run_annotate(request: HttpRequest, pk: int) -> HttpResponse:
    """Editors set the run's version, tags and notes; invalid input changes nothing."""
    run = access.object_for(request, Run.objects.select_related("plan"), pk, role=access.EDITOR)
    form = RunAnnotationForm(request.POST)
    if not form.is_valid():
        return _run_page(request, run, annotate_form=form)
    clean = form.cleaned_data["annotations"]
    run_annotate_service(run=run, version=clean.version, tags=clean.tags, notes=clean.notes)
    messages.success(request, f"Saved the version, tags and notes of run #{run.pk}.")
    return redirect(run)


@require_POST
@access.team_view()
def run_pin(request: HttpRequest, pk: int) -> HttpResponse:
    """Editors pin an ended run (kept at full resolution by the retention policy) or unpin it."""
    run = access.object_for(request, Run.objects.all(), pk, role=access.EDITOR)
    pinned = request.POST.get("pinned") == "1"
    try:
        run_set_pinned(run=run, pinned=pinned)
    except PinError as exc:
        messages.error(request, str(exc))
        return redirect(run)
    messages.success(
        request,
        f"Run #{run.pk} is pinned: kept at full resolution." if pinned else f"Run #{run.pk} is unpinned.",
    )
    return redirect(run)


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
    return render(request, "runs/run_detail_tables.html", tables_context(request, run))


def tables_context(request: HttpRequest, run: Run) -> dict[str, Any]:
    """The live page's refreshed part: endpoint and error tables as of ``?upto=``, and while a
    capacity search runs, its steps decided so far."""
    return {
        "run": run,
        "endpoints": selectors.run_endpoint_rows(run=run, upto=upto_param(request)),
        "errors": selectors.run_errors(run=run),
        "search": run_search_view(run=run) if run.is_active else None,
    }


def upto_param(request: HttpRequest) -> int | None:
    """``?upto=<t>``: the second the live page's headline shows (its tables must agree)."""
    try:
        return max(int(request.GET["upto"]), -1)
    except (KeyError, ValueError):
        return None


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
