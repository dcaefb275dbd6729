"""Reads of a run's server series (``RunMetricSeries`` and their points)."""

from __future__ import annotations

from typing import Any

from runs.models import Run, RunMetricPoint, RunMetricSeries


def run_metric_rows(*, run: Run) -> list[dict[str, Any]]:
    """Every series of ``run`` with its points ``[(t, value)]``, in order. Two queries."""
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


def run_metric_warnings(*, rows: list[dict[str, Any]]) -> list[str]:
    """The distinct warnings of the series (one per failing source)."""
    seen: dict[str, None] = {}
    for row in rows:
        if row["warning"]:
            seen.setdefault(row["warning"], None)
    return list(seen)
