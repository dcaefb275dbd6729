"""Threshold verdicts of a run, from its stored exact data, and the live abort check's reads.

``run_summarise`` calls :func:`run_thresholds_evaluate_safely` when a run ends (``run_finish``
and the reaper both summarise), after the EndpointSummary rows are written: whole-run
percentiles come from those rows (each the merge of the endpoint's exact per-second
histograms) and the run's own from merging them, error rate is failures / requests and
throughput requests / measured seconds (``last_t + 1``, as ``Run.mean_rps``).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from django.db import transaction

from runs.core import thresholds
from runs.core.histogram import Histogram
from runs.models import EndpointSecond, EndpointSummary, Run, RunSecond
from runs.selectors.histograms import second_histograms
from runs.selectors.metrics import run_metric_extremes
from runs.services.analysis import histogram_from_row

log = logging.getLogger(__name__)

PERCENTILES = {"p50": 50, "p90": 90, "p95": 95, "p99": 99}


def _percentiles(hist: Histogram) -> Mapping[str, float | None]:
    if not hist.total:
        return {name: None for name in (*PERCENTILES, "max")}
    ps = hist.percentiles_ms(PERCENTILES.values())
    return {name: ps[q] for name, q in PERCENTILES.items()} | {"max": hist.max_ms}


def run_thresholds_evaluate(*, run_id: int) -> list[dict[str, Any]]:
    """Judge the run's snapshot thresholds on its stored results; store and return the verdicts."""
    run = Run.objects.only("id", "snapshot", "last_t", "threshold_abort").get(pk=run_id)
    items = thresholds.parse_thresholds(run.thresholds)
    if not items:
        Run.objects.filter(pk=run_id).update(passed=None, threshold_results=[])
        return []
    seconds = float(max(run.last_t + 1, 1))
    overall_hist = Histogram()
    endpoints: dict[tuple[str, str], thresholds.Observed] = {}
    requests = failures = 0
    rows = EndpointSummary.objects.filter(run_id=run_id).values_list(
        "method",
        "name",
        "requests",
        "failures",
        "p50_ms",
        "p90_ms",
        "p95_ms",
        "p99_ms",
        "max_ms",
        "histogram",
    )
    for method, name, reqs, fails, p50, p90, p95, p99, pmax, hist in rows:
        overall_hist.merge(histogram_from_row(hist))
        requests += reqs
        failures += fails
        endpoints[(method, name)] = thresholds.Observed(
            requests=reqs,
            failures=fails,
            seconds=seconds,
            percentiles={"p50": p50, "p90": p90, "p95": p95, "p99": p99, "max": pmax},
        )
    overall = thresholds.Observed(
        requests=requests, failures=failures, seconds=seconds, percentiles=_percentiles(overall_hist)
    )
    aborted = (run.threshold_abort or {}).get("index")
    server = run_metric_extremes(run=run) if any(thresholds.is_server(t.metric) for t in items) else {}
    results = thresholds.evaluate(
        items,
        overall=overall,
        endpoints=endpoints,
        aborted_index=aborted if isinstance(aborted, int) else None,
        server=server,
    )
    Run.objects.filter(pk=run_id).update(passed=thresholds.overall_passed(results), threshold_results=results)
    return results


def run_thresholds_evaluate_safely(*, run_id: int) -> list[dict[str, Any]] | None:
    """For the end of a run: a failure is logged, never raised, and the run is marked not
    passed (a CI job must not read "no verdict" as "no thresholds")."""
    try:
        with transaction.atomic():  # a savepoint: a failed query leaves no broken transaction
            return run_thresholds_evaluate(run_id=run_id)
    except Exception:
        log.exception("run %s: evaluating its thresholds failed", run_id)
        try:
            Run.objects.filter(pk=run_id).update(passed=False, threshold_results=[])
        except Exception:
            log.exception("run %s: could not mark its thresholds as not evaluated", run_id)
        return None


# -- reads for the live abort check (runs.engine.runner) ------------------------------------------
def _sample(stored: Sequence[Any], hist: Any, with_p90: bool) -> thresholds.SecondSample:
    """``stored``: t, requests, failures and the stored p50, p95, p99 and max of one second."""
    t, requests, failures, p50, p95, p99, pmax = stored
    percentiles = {"p50": p50, "p95": p95, "p99": p99, "max": pmax}
    if with_p90:
        h = histogram_from_row(hist)
        percentiles["p90"] = h.percentile_ms(90) if h.total else None
    return thresholds.SecondSample(t=t, requests=requests, failures=failures, percentiles=percentiles)


def run_seconds_for_watch(
    *, run_id: int, after: int, upto: int, endpoints: Collection[tuple[str, str]], with_p90: bool
) -> tuple[list[thresholds.SecondSample], dict[tuple[str, str], list[thresholds.SecondSample]]]:
    """Stored seconds ``after < t <= upto`` of the run and of ``endpoints``; histograms are
    read only when a p90 threshold needs them (the other percentiles are stored columns)."""
    columns: Sequence[str] = ("t", "requests", "failures", "p50_ms", "p95_ms", "p99_ms", "max_ms")
    hist_column = ("histogram",) if with_p90 else ()
    seconds = list(
        RunSecond.objects.filter(run_id=run_id, t__gt=after, t__lte=upto)
        .order_by("t")
        .values_list(*columns, *hist_column)
    )
    # A second of one endpoint keeps its histogram in that endpoint's row only.
    hists: list[Any] = (
        second_histograms(run_id=run_id, rows=[(r[0], r[1], r[7]) for r in seconds])
        if with_p90
        else [None] * len(seconds)
    )
    overall = [_sample(row[:7], hist, with_p90) for row, hist in zip(seconds, hists, strict=True)]
    per_endpoint: dict[tuple[str, str], list[thresholds.SecondSample]] = {key: [] for key in endpoints}
    if endpoints:
        names = {name for _, name in endpoints}
        rows = (
            EndpointSecond.objects.filter(run_id=run_id, t__gt=after, t__lte=upto, name__in=names)
            .order_by("t")
            .values_list("method", "name", *columns, *hist_column)
        )
        for row in rows:
            key = (row[0], row[1])
            if key in per_endpoint:
                per_endpoint[key].append(_sample(row[2:9], row[9] if with_p90 else None, with_p90))
    return overall, per_endpoint
