"""What every figure module shares: the Figure type, the palette of the run charts, escaping of
user text for plotly's pseudo-HTML, number cleaning and the base layout.

Pure module: no ORM, no I/O. plotly.js renders a pseudo-HTML subset in titles, trace names,
axis labels and hover text, so every user-supplied string goes through :func:`esc` first.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import numpy as np

Figure = dict[str, Any]
Row = Mapping[str, Any]

COLORS = {
    "rps": "#2563eb",
    "p50": "#16a34a",
    "p95": "#d97706",
    "p99": "#dc2626",
    "users": "#7c3aed",
    "planned": "#9ca3af",
    "failures": "#dc2626",
}


def esc(text: Any) -> str:
    """Escape text for plotly's pseudo-HTML: <, >, & and both quotes."""
    return html.escape("" if text is None else str(text), quote=True)


def num(value: Any) -> float | int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    if f != f or f in (float("inf"), float("-inf")):
        return None
    return round(f, 3)


def nums_array(values: Any) -> list[float | None]:
    """``[num(v) for v in values]`` for a float array (one pass, no per-item type checks):
    non-finite values become ``None``, the rest are rounded to 3 decimals by ``round``."""
    arr = np.asarray(values, dtype=float)
    bad = ~np.isfinite(arr)
    # A whole number is its own rounding (requests per second, a 0% error rate): ``round``
    # runs only on the others, and writes back into a copy (float64 holds its result exactly).
    fraction = ~bad & (arr != np.trunc(arr, where=~bad, out=np.zeros_like(arr)))
    if fraction.any():
        arr = arr.copy()
        arr[fraction] = [round(v, 3) for v in arr[fraction].tolist()]
    out: list[float | None] = arr.tolist()
    if bad.any():
        for i in np.flatnonzero(bad).tolist():
            out[i] = None
    return out


def base_layout(
    title: str, y_title: str, *, x_title: str = "Seconds since start", **extra: Any
) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 14}},
        "margin": {"l": 56, "r": 16, "t": 40, "b": 44},
        "height": 280,
        "xaxis": {"title": {"text": x_title}, "rangemode": "tozero", "zeroline": False},
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero"},
        "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
        "hovermode": "x unified",
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "#ffffff",
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
    }
    layout.update(extra)
    return layout


def subject_title(what: str, subject: str | None) -> str:
    return f"{what} · {esc(subject)}" if subject else what
