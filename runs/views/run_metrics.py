"""A run's server series as JSON figures, for the live run page (static/js/metrics.js)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from runs import access
from runs.figures import metrics as figures_metrics
from runs.models import Run
from runs.selectors import metrics as selectors_metrics


@require_GET
@never_cache
@access.team_view()
def run_metrics_live(request: HttpRequest, pk: int) -> JsonResponse:
    run = access.object_for(request, Run.objects.all(), pk)
    rows = selectors_metrics.run_metric_rows(run=run)
    x_max = max(float(run.planned_seconds or 0), float(run.last_t + 1))
    return JsonResponse(
        {
            "active": run.is_active,
            "charts": figures_metrics.metric_figures(rows, x_max=x_max),
            "warnings": selectors_metrics.run_metric_warnings(rows=rows),
        }
    )
