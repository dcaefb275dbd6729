"""Reads for the exports (``runs.core.exports``): plain rows, per-second rows as lazy iterators.

Per-second rows are read with ``values_list(...).iterator()`` (a server-side cursor on
PostgreSQL), so a download streams them without loading a long run into memory; the queries
run while the response is being sent. Histograms are only read when asked for.

Query counts: ``run_export`` makes five (endpoint summaries, errors, analysis, seconds,
endpoint seconds) once the run's analysis is stored; ``run_report`` five (seconds, summaries,
errors, analysis, and the baseline verdict's analyses, when the run has a baseline);
``run_csv_streams`` two.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runs.core.exports.csv import ENDPOINT_SECOND_FIELDS, SECOND_FIELDS
from runs.core.exports.json import (
    ENDPOINT_COLUMNS,
    ENDPOINT_SECOND_COLUMNS,
    ERROR_COLUMNS,
    SECOND_COLUMNS,
    RunExport,
)
from runs.core.histogram import Histogram
from runs.models import EndpointSummary, ErrorGroup, Run, RunAnalysis
from runs.selectors import control as selectors_control
from runs.selectors import runs as selectors
from runs.selectors.analysis import run_baseline_verdict
from runs.selectors.histograms import rows_with_dicts, second_rows_with_dicts
from runs.selectors.metrics import run_metric_rows
from runs.selectors.seconds import iter_endpoint_second_values, iter_run_second_values
from runs.services.analysis import ANALYSIS_VERSION, run_analyses_ensure

CHUNK_SIZE = 2000
# Rows per fetch with histograms: a busy second's histogram decodes to ~100 KB of lists, so
# 2,000 of them would hold ~200 MB while a download runs.
CHUNK_SIZE_HISTOGRAMS = 100


@dataclass(frozen=True)
class RunReport:
    """What the report of one run shows (``runs.selectors.export.run_report``)."""

    run: Mapping[str, Any]  # ``runs.selectors.export.run_header``
    snapshot: Mapping[str, Any]  # as stored: the builder redacts it
    seconds: Sequence[Mapping[str, Any]]  # ``runs.figures.runs.SECOND_COLUMNS`` rows, by t
    planned: tuple[Sequence[float], Sequence[float]] | None
    endpoints: Sequence[Mapping[str, Any]]  # ``runs.selectors.runs.ENDPOINT_COLUMNS`` rows
    errors: Sequence[Mapping[str, Any]]
    analysis: Mapping[str, Any] | None  # ``RunAnalysis.data``
    baseline: Any = None  # ``runs.selectors.analysis.BaselineVerdict``
    thresholds: Sequence[Mapping[str, Any]] = ()  # the snapshot's, drawn on the charts
    threshold_rows: Sequence[Mapping[str, Any]] = ()  # ``runs.selectors.runs.run_threshold_rows``
    markers: Sequence[Mapping[str, Any]] = ()  # live changes: ``runs.selectors.control.timeline_markers``
    server_series: Sequence[Mapping[str, Any]] = ()  # ``runs.selectors.metrics.run_metric_rows``


def run_header(*, run: Run) -> dict[str, Any]:
    """The run's own fields and derived figures, as plain data (no query)."""
    return {
        "id": run.pk,
        "plan_id": run.plan_id,
        "plan_name": run.plan_name,
        "status": str(run.status),
        "status_label": run.get_status_display(),
        "is_active": run.is_active,
        "open_model": run.is_open_model,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "duration_seconds": run.duration_seconds,
        "planned_seconds": run.planned_seconds,
        "last_t": run.last_t,
        "total_requests": run.total_requests,
        "total_failures": run.total_failures,
        "total_bytes": run.total_bytes,
        "error_rate": run.error_rate,
        "mean_rps": run.mean_rps,
        "p50_ms": run.p50_ms,
        "p95_ms": run.p95_ms,
        "p99_ms": run.p99_ms,
        "max_ms": run.max_ms,
        "locust_version": run.locust_version,
        "generator_host": run.generator_host,
        "error_message": run.error_message,
        "generators": run.generators,
        # Retention: seconds per stored row (10 once rolled up), when, and whether it is kept whole.
        "resolution_s": run.resolution_s,
        "rolled_up_at": run.rolled_up_at,
        "rolled_up_after_days": run.rolled_up_after_days,
        "pinned": run.pinned,
        # Pass/fail: null without thresholds; the verdict of each threshold; why it aborted.
        "passed": run.passed,
        "threshold_results": run.threshold_results or [],
        "threshold_abort": run.threshold_abort,
    }


def run_second_rows(
    *, run: Run, fields: tuple[str, ...], histograms: bool = False
) -> Iterator[tuple[Any, ...]]:
    """The run's RunSecond rows by ``t`` as tuples of ``fields`` (+ the histogram as a dict)."""
    if not histograms:
        return iter_run_second_values(run=run, fields=fields, chunk=CHUNK_SIZE)
    rows = iter_run_second_values(
        run=run, fields=(*fields, "t", "requests", "histogram"), chunk=CHUNK_SIZE_HISTOGRAMS
    )
    n = len(fields)
    filled = second_rows_with_dicts(
        run_id=run.pk,
        rows=rows,
        t_index=n,
        requests_index=n + 1,
        chunk=CHUNK_SIZE_HISTOGRAMS,
        packed=run.packed_at is not None,
    )
    return ((*row[:n], row[-1]) for row in filled)


def run_endpoint_second_rows(
    *, run: Run, fields: tuple[str, ...], histograms: bool = False
) -> Iterator[tuple[Any, ...]]:
    """The run's EndpointSecond rows by (t, method, name) — the order of its unique index."""
    columns = (*fields, "histogram") if histograms else fields
    rows = iter_endpoint_second_values(
        run=run, fields=columns, chunk=CHUNK_SIZE_HISTOGRAMS if histograms else CHUNK_SIZE
    )
    return rows_with_dicts(rows, chunk=CHUNK_SIZE_HISTOGRAMS) if histograms else rows


def run_csv_streams(*, run: Run) -> dict[str, Any]:
    """Keyword arguments of ``runs.core.exports.csv.csv_chunks`` for ``run``."""
    return {
        "seconds": run_second_rows(run=run, fields=SECOND_FIELDS),
        "endpoint_seconds": run_endpoint_second_rows(run=run, fields=ENDPOINT_SECOND_FIELDS),
        "started_at": run.started_at,
        "open_model": run.is_open_model,
        "server_series": run_metric_rows(run=run),
        "resolution_s": run.resolution_s,
        "last_t": run.last_t,
    }


def _analysis(*, run: Run) -> Mapping[str, Any] | None:
    """The stored analysis of an ended run with its version and time (computed and stored
    first when missing or stale, as the run page does); ``None`` while the run is active."""
    if run.is_active or run.last_t < 0:
        return None
    stored = RunAnalysis.objects.filter(run=run).values("version", "computed_at", "data")
    row: Mapping[str, Any] | None = stored.first()
    if row is None or row["version"] != ANALYSIS_VERSION:
        data = run_analyses_ensure(ids=[run.pk], runs={run.pk: run})[run.pk]  # computes and stores it
        # Not stored when it failed: the data then carries the ``error`` the pages show.
        row = stored.first() or {"version": ANALYSIS_VERSION, "computed_at": None, "data": data}
    return row


def run_export(*, run: Run, histograms: bool = False) -> RunExport:
    """Everything the JSON export of ``run`` holds; the per-second rows are lazy."""
    endpoint_fields = (*ENDPOINT_COLUMNS, "histogram") if histograms else ENDPOINT_COLUMNS
    return RunExport(
        run=run_header(run=run),
        snapshot=run.snapshot or {},
        endpoints=[
            {**e, "histogram": Histogram.load(e["histogram"]).to_dict()} if histograms else e
            for e in EndpointSummary.objects.filter(run=run)
            .order_by("name", "method")
            .values(*endpoint_fields)
        ],
        errors=list(ErrorGroup.objects.filter(run=run).order_by("-count", "name").values(*ERROR_COLUMNS)),
        analysis=_analysis(run=run),
        seconds=run_second_rows(run=run, fields=SECOND_COLUMNS, histograms=histograms),
        endpoint_seconds=run_endpoint_second_rows(
            run=run, fields=ENDPOINT_SECOND_COLUMNS, histograms=histograms
        ),
        histograms=histograms,
        server_series=run_metric_rows(run=run),
        interval_seconds=run.resolution_s,
    )


def run_report(*, run: Run, with_baseline: bool = True) -> RunReport:
    """Everything the HTML report of ``run`` shows: what the run page reads. ``run`` should
    come with its plan (``select_related("plan")``) for the baseline verdict, which a share
    link's report leaves out (it is another run of the team)."""
    analysis = _analysis(run=run)
    timeline = selectors_control.run_timeline(run=run)
    return RunReport(
        run=run_header(run=run),
        snapshot=run.snapshot or {},
        seconds=selectors.run_seconds(run=run),
        # The plan the run followed, with its live changes (as on the run page).
        planned=selectors_control.planned_curve(
            selectors_control.effective_plan(snapshot=run.snapshot or {}, rows=timeline)
        ),
        markers=selectors_control.timeline_markers(timeline),
        endpoints=selectors.run_endpoint_rows(run=run),
        errors=list(
            ErrorGroup.objects.filter(run=run).order_by("-count", "name").values(*ERROR_COLUMNS)[:1000]
        ),
        analysis=analysis["data"] if analysis else None,
        baseline=run_baseline_verdict(run=run) if with_baseline else None,
        thresholds=list(run.thresholds or []),
        threshold_rows=selectors.run_threshold_rows(run=run),
        server_series=run_metric_rows(run=run),
    )
