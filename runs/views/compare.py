from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from runs import access
from runs.figures import analysis as figures_analysis
from runs.forms.compare import CompareWindowForm, RunsCompareForm
from runs.models import Run
from runs.selectors import analysis as selectors_analysis
from runs.selectors import runs as selectors
from runs.services.baseline import BaselineError, plan_set_baseline


def comparison_figures(result: selectors_analysis.RunsComparison) -> dict[str, Any]:
    """Every chart of a comparison, for its page and its shared link."""
    runs = result.runs
    return figures_analysis.compare_figures(
        [r.label for r in runs],
        [r.series for r in runs],
        [r.capacity for r in runs],
        [r.usl for r in runs],
        [r.knee for r in runs],
        [r.controls for r in runs],
        [f"#{r.run.pk}" for r in runs],
    )


@require_GET
@access.team_view()
def runs_compare(request: HttpRequest) -> HttpResponse:
    """``/runs/compare/?ids=3,5,9[&baseline=5]``: overlays, capacity curves and verdicts."""
    form = RunsCompareForm(request.GET)
    if not form.is_valid():
        context = {"form": form, "max_runs": selectors_analysis.MAX_COMPARE_RUNS}
        return render(request, "runs/compare.html", context, status=400)
    ids: list[int] = form.cleaned_data["ids"]
    try:
        result = selectors_analysis.runs_compare(
            runs=access.visible(Run.objects.all(), user=request.user),
            ids=ids,
            reference_id=form.cleaned_data.get("baseline"),
        )
    except selectors_analysis.RunsNotFound as exc:
        raise Http404(f"No run #{exc.args[0][0]}.") from exc
    figs = comparison_figures(result)
    ids_param = ",".join(str(i) for i in ids)
    teams_of_runs = {r.run.team_id for r in result.runs}
    membership = access.membership_in(request, teams_of_runs.pop()) if len(teams_of_runs) == 1 else None
    share_hidden = [("ids", ids_param)]
    if form.cleaned_data.get("baseline"):
        share_hidden.append(("baseline", str(form.cleaned_data["baseline"])))
    context = {
        "form": form,
        "result": result,
        "figs": figs,
        "ids_param": ids_param,
        "share_url": request.build_absolute_uri(f"{reverse('runs-compare')}?ids={ids_param}"),
        "max_runs": selectors_analysis.MAX_COMPARE_RUNS,
        "window_url": f"{reverse('runs-compare-window')}?ids={ids_param}",
        # A link shows runs of one team only, and only that team's admins make one.
        "can_share": bool(membership and membership.can(access.ADMIN)),
        "share_hidden": share_hidden,
    }
    return render(request, "runs/compare.html", context)


@require_GET
@access.team_view()
def runs_compare_window(request: HttpRequest) -> JsonResponse:
    """Overlay points of a zoomed window, at full resolution where the window allows it.

    The page draws whole runs downsampled (peaks kept); when the reader zooms in, static/js/
    compare.js fetches this and swaps in the points of the visible window. Only numbers: trace
    names stay those the page already escaped.
    """
    form = CompareWindowForm(request.GET)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    data = form.cleaned_data
    series = selectors.runs_series_window(
        runs=access.visible(Run.objects.all(), user=request.user),
        ids=data["ids"],
        lo=data["start"],
        hi=data["end"],
    )
    if series is None:
        raise Http404("No such run.")
    figs = figures_analysis.compare_timeseries_figures([""] * len(series), series)
    return JsonResponse(
        {
            key: {"x": [tr["x"] for tr in fig["data"]], "y": [tr["y"] for tr in fig["data"]]}
            for key, fig in figs.items()
        }
    )


@require_POST
@access.team_view()
def run_baseline(request: HttpRequest, pk: int) -> HttpResponse:
    run = access.object_for(request, Run.objects.all(), pk, role=access.EDITOR)
    try:
        plan = plan_set_baseline(run=run)
    except BaselineError as exc:
        messages.error(request, str(exc))
        return redirect(run)
    messages.success(request, f"Run #{run.pk} is now the baseline of “{plan}”.")
    return redirect(run)
