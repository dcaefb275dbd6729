"""Threshold limits on the run charts (pure figure functions, no DB)."""

from __future__ import annotations

from runs.core.thresholds import parse_thresholds
from runs.figures.runs import run_figures

ROWS = [
    {"t": t, "users": 2, "requests": 100, "failures": 0, "p50_ms": 10.0, "p95_ms": 40.0, "p99_ms": 60.0}
    for t in range(3)
]


def _limits(text: str) -> list[dict]:
    return [t.to_dict() for t in parse_thresholds(text)]


def test_whole_run_limits_are_dashed_lines_on_their_chart_and_endpoint_ones_are_left_out() -> None:
    figs = run_figures(
        ROWS, thresholds=_limits("p95 < 50\nmax <= 150\nrps >= 80\nGET /a: p99 < 70\nerror_rate < 1%")
    )
    latency, rps = figs["latency"]["layout"], figs["rps"]["layout"]
    assert [(s["y0"], s["y1"], s["line"]["dash"]) for s in latency["shapes"]] == [
        (50, 50, "dash"),
        (150, 150, "dash"),
    ]
    assert [a["text"] for a in latency["annotations"]] == ["p95 &lt; 50", "max &lt;= 150"]
    assert [s["y0"] for s in rps["shapes"]] == [80] and rps["annotations"][0]["text"] == "rps &gt;= 80"
    assert "shapes" not in figs["users"]["layout"] and "shapes" not in figs["failures"]["layout"]
    # Traces are untouched: the live page extends them by index.
    assert [t["name"] for t in figs["latency"]["data"]] == ["p50", "p95", "p99"]


def test_a_limit_far_above_the_data_is_named_in_the_corner_instead_of_squashing_the_chart() -> None:
    latency = run_figures(ROWS, thresholds=_limits("p95 < 5000"))["latency"]["layout"]
    assert "shapes" not in latency
    assert latency["annotations"] == [
        {
            "xref": "paper",
            "x": 0,
            "xanchor": "left",
            "yref": "paper",
            "y": 1,
            "yanchor": "top",
            "text": "p95 &lt; 5000 (above the chart)",
            "showarrow": False,
            "font": {"size": 10, "color": "#b91c1c"},
        }
    ]
    # Before any data (a run that has just started), the line is drawn.
    assert run_figures([], thresholds=_limits("p95 < 5000"))["latency"]["layout"]["shapes"][0]["y0"] == 5000


def test_no_thresholds_no_shapes() -> None:
    figs = run_figures(ROWS)
    assert all("shapes" not in f["layout"] and "annotations" not in f["layout"] for f in figs.values())
