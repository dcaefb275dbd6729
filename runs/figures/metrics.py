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


PALETTE = ("#0891b2", "#7c3aed", "#d97706", "#16a34a", "#dc2626", "#2563eb", "#db2777", "#65a30d")


def _share(value: float | None, scale: float | None) -> float | None:
    return None if value is None or not scale else num(100.0 * value / scale)


def server_capacity(server: Row | None) -> dict[str, Any] | None:
    """The capacity section's server part from the stored analysis' ``server``: the per-step
    table, the ranking by latency tracking, and two figures of every series against users and
    against throughput. Series of different units share an axis as a share of their limit (or,
    without one, of their highest step); hover shows the value in its own unit."""
    if not server or not server.get("series") or not server.get("steps"):
        return None
    infos = list(server["series"])
    steps = list(server["steps"])
    labels = {i["key"]: f"{i['source']} · {i['name']}" for i in infos}
    rows = [
        {
            "users": s["users"],
            "throughput_rps": s["throughput_rps"],
            "mean_ms": s["mean_ms"],
            "cells": [s["values"].get(i["key"]) for i in infos],
        }
        for s in steps
    ]
    figs: dict[str, Figure] = {}
    for fig_id, x_key, x_title in (
        ("server-vs-users", "users", "Users"),
        ("server-vs-throughput", "throughput_rps", "Throughput (req/s)"),
    ):
        data = []
        for n, info in enumerate(infos):
            values = [s["values"].get(info["key"]) for s in steps]
            finite = [v for v in values if v is not None]
            scale = info.get("limit") or (max(finite) if finite and max(finite) > 0 else None)
            unit = esc(info.get("unit") or "")
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": esc(labels[info["key"]]),
                    "x": [num(s[x_key]) for s in steps],
                    "y": [_share(v, scale) for v in values],
                    "text": ["–" if v is None else f"{v:.4g} {unit}".strip() for v in values],
                    "hovertemplate": "%{text}<extra>%{fullData.name}</extra>",
                    "line": {"color": PALETTE[n % len(PALETTE)], "width": 2},
                }
            )
        layout = base_layout(
            f"Server series against {x_title.split(' ')[0].lower()}",
            "% of limit (or of the highest step)",
            x_title=x_title,
        )
        figs[fig_id] = {"data": data, "layout": layout}
    return {
        "series": [
            {"label": labels[i["key"]], "unit": i.get("unit") or "", "limit": i.get("limit")} for i in infos
        ],
        "rows": rows,
        "tracking": [
            {"label": labels.get(t["key"], t["key"]), "r": t["r"]} for t in server.get("tracking") or []
        ],
        "saturated": [s["phrase"] for s in server.get("saturated") or []],
        "figs": figs,
    }
