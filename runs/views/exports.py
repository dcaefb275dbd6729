"""Downloads of a run: CSV of the per-second series, JSON of the whole run, HTML report.

Each view looks the run up in one line (the place a team-scoped lookup goes) and hands plain
data from ``runs.selectors.export`` to a pure builder in ``runs.core.exports``. CSV and JSON are
streamed: the per-second rows are read from the database while the response is sent.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from django.views.decorators.cache import never_cache
from django.views.decorators.csp import csp_override
from django.views.decorators.http import require_GET

from runs import access
from runs.core.exports.csv import csv_chunks
from runs.core.exports.json import json_chunks
from runs.models import Run
from runs.selectors import export as selectors_export
from runs.views.report import report_html

FLAGS = {"": False, "0": False, "false": False, "no": False, "1": True, "true": True, "yes": True}


def export_filename(*, run_id: int, plan_name: str, ext: str) -> str:
    """``scaletest-run-<id>-<plan-slug>.<ext>`` (ASCII only; ``run`` when the name has no
    letters or digits)."""
    slug = slugify(plan_name)[:60].strip("-") or "run"
    return f"scaletest-run-{run_id}-{slug}.{ext}"


def _attachment(response: HttpResponse | StreamingHttpResponse, run: Run, ext: str) -> None:
    filename = export_filename(run_id=run.pk, plan_name=run.plan_name, ext=ext)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["X-Content-Type-Options"] = "nosniff"


# The responses, shared by the team's pages below and share links (runs.views.shares).
def csv_response(run: Run) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        csv_chunks(**selectors_export.run_csv_streams(run=run)), content_type="text/csv; charset=utf-8"
    )
    _attachment(response, run, "csv")
    return response


def json_response(request: HttpRequest, run: Run) -> HttpResponse | StreamingHttpResponse:
    histograms = FLAGS.get(request.GET.get("histograms", "").strip().lower())
    if histograms is None:
        return HttpResponseBadRequest("histograms must be 1 or 0.", content_type="text/plain; charset=utf-8")
    export = selectors_export.run_export(run=run, histograms=histograms)
    response = StreamingHttpResponse(json_chunks(export), content_type="application/json")
    _attachment(response, run, "json")
    return response


def report_response(run: Run, *, with_baseline: bool = True) -> HttpResponse:
    response = HttpResponse(
        report_html(selectors_export.run_report(run=run, with_baseline=with_baseline)),
        content_type="text/html; charset=utf-8",
    )
    _attachment(response, run, "html")
    return response


@never_cache
@require_GET
@access.team_view()
def run_export_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    return csv_response(access.object_for(request, Run.objects.all(), pk))


@never_cache
@require_GET
@access.team_view()
def run_export_json(request: HttpRequest, pk: int) -> HttpResponse | StreamingHttpResponse:
    return json_response(request, access.object_for(request, Run.objects.all(), pk))


@csp_override({})  # the report's own policy is in its <meta> tag, with hashes of its inline code
@never_cache
@require_GET
@access.team_view()
def run_report(request: HttpRequest, pk: int) -> HttpResponse:
    return report_response(access.object_for(request, Run.objects.select_related("plan"), pk))
