"""The search path of a capacity search over the load chart (pure: rows in, a figure dict out)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from runs.figures.common import COLORS, base_layout, esc

Figure = dict[str, Any]
PASS_COLOR = "#16a34a"
FAIL_COLOR = "#dc2626"


def search_figure(
    rows: Iterable[Mapping[str, Any]], steps: Sequence[Mapping[str, Any]], *, open_model: bool, unit: str
) -> Figure:
    """The measured load second by second (users, or for the open model requests/s) with each
    decided step drawn over the seconds it judged, at its load: green when it passed, red when
    it failed; hovering a step shows its verdict and why."""
    rows = list(rows)
    xs = [r["t"] for r in rows]
    ys = [(r["requests"] / (r.get("span") or 1)) if open_model else r["users"] for r in rows]
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "requests/s (measured)" if open_model else "users (measured)",
            "x": xs,
            "y": ys,
            "line": {"color": COLORS["users"], "width": 1.5},
            "hoverinfo": "x+y",
        }
    ]
    for verdict, color in ((True, PASS_COLOR), (False, FAIL_COLOR)):
        sx: list[float | None] = []
        sy: list[float | None] = []
        texts: list[str] = []
        for step in steps:
            if bool(step.get("passed")) is not verdict:
                continue
            text = esc(
                f"step {step['index'] + 1}: {step['load']:g} {unit} {'passed' if verdict else 'failed'} — "
                f"{step.get('reason', '')}"
            )
            sx += [step["start_t"], step["end_t"] + 1, None]
            sy += [step["load"], step["load"], None]
            texts += [text, text, ""]
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "step passed" if verdict else "step failed",
                "x": sx,
                "y": sy,
                "text": texts,
                "hovertemplate": "%{text}<extra></extra>",
                "line": {"color": color, "width": 4},
                "marker": {"color": color, "size": 7},
                "connectgaps": False,
            }
        )
    order_x = [s["end_t"] + 1 for s in steps]
    order_y = [s["load"] for s in steps]
    data.append(
        {
            "type": "scatter",
            "mode": "lines",
            "name": "search path",
            "x": order_x,
            "y": order_y,
            "line": {"color": "#6b7280", "width": 1, "dash": "dot"},
            "hoverinfo": "skip",
        }
    )
    y_title = f"load ({esc(unit)})" + (" · requests/s" if open_model else "")
    return {
        "data": data,
        "layout": base_layout("Capacity search: load per step", y_title, hovermode="closest"),
    }
