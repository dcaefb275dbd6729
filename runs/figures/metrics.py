"""Server series of a run as Plotly figures, one per series, on the load charts' time axis.

Pure module. A second the source missed is a gap (``None``), never a line across it; a series
with a limit shows it as a dashed line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from runs.figures.common import Figure, Row, base_layout, esc, num

COLOR = "#0891b2"
LIMIT_COLOR = "#b91c1c"


def gapped(points: Sequence[tuple[int, float]]) -> tuple[list[int], list[float | None]]:
    """x and y with a ``None`` where consecutive points are more than a second apart."""
    xs: list[int] = []
    ys: list[float | None] = []
    last: int | None = None
    for t, value in points:
        if last is not None and t - last > 1:
            xs.append(last + 1)
            ys.append(None)
        xs.append(int(t))
        ys.append(num(value))
        last = int(t)
    return xs, ys


def series_title(row: Row) -> str:
    unit = f" ({esc(row['unit'])})" if row.get("unit") else ""
    return f"Server: {esc(row['source'])} · {esc(row['name'])}{unit}"


def metric_figure(row: Row, *, x_max: float | None = None) -> Figure:
    """``row``: source, name, unit, limit and ``points`` [(t, value)] of one series."""
    xs, ys = gapped(row.get("points") or [])
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": esc(row["name"]),
            "x": xs,
            "y": ys,
            "connectgaps": False,
            "line": {"color": COLOR, "width": 2},
        }
    ]
    limit = num(row.get("limit"))
    right = x_max if x_max else (xs[-1] if xs else 1)
    if limit is not None:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"limit {limit:g}",
                "x": [0, right],
                "y": [limit, limit],
                "line": {"color": LIMIT_COLOR, "width": 1.5, "dash": "dash"},
                "hoverinfo": "skip",
            }
        )
    layout = base_layout(series_title(row), esc(row.get("unit") or row["name"]))
    layout["height"] = 220
    if x_max:
        layout["xaxis"]["range"] = [0, x_max]
        layout["xaxis"]["autorange"] = False
    return {"data": data, "layout": layout}


def metric_figures(rows: Iterable[Row], *, x_max: float | None = None) -> list[dict[str, Any]]:
    """``[{"id": "metric-<n>", "fig": figure, "warning": text}]`` in the series' order."""
    return [
        {"id": f"metric-{index}", "fig": metric_figure(row, x_max=x_max), "warning": row.get("warning") or ""}
        for index, row in enumerate(rows)
    ]
