"""Reads of a run's server series (``RunMetricSeries`` and their points)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runs.core.analysis.knee import KneeResult
from runs.core.analysis.steps import StepAggregate
from runs.core.metrics.steps import SeriesInfo, StepLoad, server_analysis, sustained_extremes
from runs.models import Run, RunAnalysis, RunMetricPoint, RunMetricSeries


def run_metric_rows(*, run: Run) -> list[dict[str, Any]]:
    """Every series of ``run`` with its points ``[(t, value)]``, in order. Two queries; none for
    a run whose target had no metrics sources."""
    if not (run.snapshot or {}).get("metric_sources"):
        return []
    series = list(RunMetricSeries.objects.filter(run=run).order_by("order", "id"))
    points: dict[int, list[tuple[int, float]]] = {s.pk: [] for s in series}
    rows = (
        RunMetricPoint.objects.filter(series__run=run)
        .order_by("series_id", "t")
        .values_list("series_id", "t", "value")
    )
    for series_id, t, value in rows:
        points[series_id].append((t, value))
    return [
        {
            "key": s.key,
            "source": s.source,
            "name": s.name,
            "kind": s.kind,
            "expr": s.expr,
            "unit": s.unit,
            "limit": s.limit,
            "warning": s.warning,
            "points": points[s.pk],
        }
        for s in series
    ]


def run_metric_warnings(*, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The distinct warnings of the series (one per failing source)."""
    seen: dict[str, None] = {}
    for row in rows:
        if row["warning"]:
            seen.setdefault(row["warning"], None)
    return list(seen)


def run_server_summary(
    *, run: Run, steps: Sequence[StepAggregate], knee: KneeResult | None
) -> dict[str, Any] | None:
    """The server side of a run's analysis (``runs.core.metrics.steps.server_analysis``);
    None for a run without server series."""
    rows = run_metric_rows(run=run)
    if not rows:
        return None
    infos = [SeriesInfo(r["key"], r["source"], r["name"], r["unit"], r["limit"]) for r in rows]
    points = {r["key"]: dict(r["points"]) for r in rows}
    loads = [StepLoad(s.users, s.start_t, s.end_t, s.throughput_rps, s.mean_ms) for s in steps]
    return server_analysis(
        infos,
        points,
        loads,
        knee_status=knee.status if knee else None,
        knee_users=knee.knee_users if knee else None,
        saturated_users=knee.saturated_users if knee else None,
    )


def run_server_analysis(*, run: Run) -> dict[str, Any] | None:
    """The stored analysis' server part of an ended run (None without server series)."""
    if run.is_active or not (run.snapshot or {}).get("metric_sources"):
        return None
    data = RunAnalysis.objects.filter(run=run).values_list("data", flat=True).first()
    return (data or {}).get("server") if isinstance(data, dict) else None


def run_metric_extremes(*, run: Run) -> dict[str, tuple[float | None, float | None]]:
    """Each series' highest and lowest 5-second mean (what ``server:`` thresholds judge)."""
    return {row["key"]: sustained_extremes(dict(row["points"])) for row in run_metric_rows(run=run)}
