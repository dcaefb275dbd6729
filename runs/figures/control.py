"""Markers of live changes on the run charts: a dotted vertical line where each applied change
(or the stop early) took effect, labelled at the top.

Pure: markers are plain dicts ``{id, t, label}`` (``runs.selectors.control.timeline_markers``).
Shapes and annotations carry ``name="control-<id>"``, so the live page replaces exactly these
when a new change arrives and leaves the threshold lines alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from runs.figures.common import Figure, esc, num

MARKER_COLOR = "#0f766e"
MARKER_PREFIX = "control-"


def marker_layout(
    markers: Iterable[Mapping[str, Any]], *, color: str = MARKER_COLOR, label_prefix: str = "", start: int = 0
) -> dict[str, list[dict[str, Any]]]:
    """The shapes and annotations of ``markers``, for a chart's layout. ``color`` and
    ``label_prefix`` tell runs apart on a comparison; ``start`` continues the alternation of
    label heights from an earlier call."""
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for i, marker in enumerate(markers, start=start):
        t = num(marker.get("t"))
        if t is None:
            continue
        name = f"{MARKER_PREFIX}{int(marker.get('id') or 0)}"
        shapes.append(
            {
                "name": name,
                "type": "line",
                "xref": "x",
                "x0": t,
                "x1": t,
                "yref": "paper",
                "y0": 0,
                "y1": 1,
                "line": {"color": color, "width": 1.5, "dash": "dot"},
            }
        )
        annotations.append(
            {
                "name": name,
                "xref": "x",
                "x": t,
                "xanchor": "left",
                "yref": "paper",
                # Alternate heights, so two changes close together do not overwrite each other.
                "y": 1.0 if i % 2 == 0 else 0.88,
                "yanchor": "top",
                "text": esc(f"{label_prefix}{marker.get('label', '')}"),
                "showarrow": False,
                "bgcolor": "rgba(255,255,255,0.8)",
                "font": {"size": 10, "color": color},
            }
        )
    return {"shapes": shapes, "annotations": annotations}


def add_control_markers(figs: Mapping[str, Figure], markers: Iterable[Mapping[str, Any]]) -> None:
    """Add the markers to every chart of ``figs`` (in place)."""
    extra = marker_layout(markers)
    if not extra["shapes"]:
        return
    for fig in figs.values():
        layout = fig["layout"]
        layout.setdefault("shapes", []).extend(dict(s) for s in extra["shapes"])
        layout.setdefault("annotations", []).extend(dict(a) for a in extra["annotations"])
