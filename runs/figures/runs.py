"""Plotly figure dicts built from plain rows.

Pure module: no ORM, no I/O. Views hand the result to ``json_script`` and ``static/js/charts.js``
draws it with ``Plotly.newPlot``. plotly.js renders a pseudo-HTML subset in titles, trace names,
axis labels and hover text, so every user-supplied string goes through :func:`esc` first.

Figures are plain dicts without a ``template``: plotly.js's own defaults are already minimal and
a Python template would add kilobytes to every chart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from runs.figures.common import COLORS, Figure, Row, base_layout, esc, num, subject_title

# Columns of a RunSecond row the time-series charts read (precomputed at ingestion).
SECOND_COLUMNS = ("t", "users", "requests", "failures", "dropped_iterations", "p50_ms", "p95_ms", "p99_ms")

# Chart key (element id ``chart-<key>``) -> the series (keys of :func:`series_from_rows`) of
# its first traces, in order. The live page extends exactly these traces with ``runs-live`` points.
TIMESERIES_CHARTS: dict[str, tuple[str, ...]] = {
    "rps": ("rps",),
    "latency": ("p50", "p95", "p99"),
    "users": ("users",),
    "failures": ("failures", "dropped"),
}


def series_from_rows(rows: Iterable[Row]) -> dict[str, list[Any]]:
    """Per-second rows (dicts with :data:`SECOND_COLUMNS`) -> parallel lists for the charts.

    A row covers one second, or ``span`` seconds when the run was rolled up (the selector adds
    it: ``runs.core.rollup.row_span``), so its request and failure counts divided by that span
    are rates. Percentiles of a row without requests are ``None`` (a gap in the line, not a zero).
    """
    keys = ("t", "rps", "p50", "p95", "p99", "users", "failures", "dropped")
    out: dict[str, list[Any]] = {k: [] for k in keys}
    for row in sorted(rows, key=lambda r: r["t"]):
        span = row.get("span") or 1
        out["t"].append(int(row["t"]))
        out["rps"].append((num(row.get("requests")) or 0) / span)
        out["failures"].append((num(row.get("failures")) or 0) / span)
        out["dropped"].append((num(row.get("dropped_iterations")) or 0) / span)
        out["users"].append(num(row.get("users")) or 0)
        for key in ("p50", "p95", "p99"):
            out[key].append(num(row.get(f"{key}_ms")))
    return out


def _line(name: str, xs: Sequence[Any], ys: Sequence[Any], color: str, **extra: Any) -> dict[str, Any]:
    trace: dict[str, Any] = {
        "type": "scatter",
        "mode": "lines",
        "name": esc(name),
        "x": list(xs),
        "y": list(ys),
        "line": {"color": color, "width": 2},
    }
    trace.update(extra)
    return trace


def _planned_line(name: str, planned: tuple[Sequence[float], Sequence[float]]) -> dict[str, Any]:
    xs, ys = planned
    return _line(
        name, xs, ys, COLORS["planned"], line={"color": COLORS["planned"], "width": 1.5, "dash": "dot"}
    )


def requests_figure(
    series: Mapping[str, Sequence[Any]],
    *,
    subject: str | None = None,
    planned_rate: tuple[Sequence[float], Sequence[float]] | None = None,
) -> Figure:
    """Achieved requests/s; for arrival-rate runs with the planned iterations/s beside it."""
    data = [_line("requests/s", series["t"], series["rps"], COLORS["rps"], fill="tozeroy")]
    if planned_rate is not None:
        data.append(_planned_line("planned iterations/s", planned_rate))
    return {"data": data, "layout": base_layout(subject_title("Requests per second", subject), "requests/s")}


def latency_figure(series: Mapping[str, Sequence[Any]], *, subject: str | None = None) -> Figure:
    return {
        "data": [
            _line(name, series["t"], series[key], COLORS[key], connectgaps=False)
            for key, name in (("p50", "p50"), ("p95", "p95"), ("p99", "p99"))
        ],
        "layout": base_layout(subject_title("Response time percentiles", subject), "ms"),
    }


def users_figure(
    series: Mapping[str, Sequence[Any]],
    *,
    planned: tuple[Sequence[float], Sequence[float]] | None = None,
    subject: str | None = None,
    open_model: bool = False,
) -> Figure:
    """Active users; for arrival-rate runs the iterations in flight (there are no users)."""
    name, title = ("in flight", "Iterations in flight") if open_model else ("users", "Users")
    data = [_line(name, series["t"], series["users"], COLORS["users"], line_shape="hv")]
    if planned is not None:
        data.append(_planned_line("planned", planned))
    return {"data": data, "layout": base_layout(subject_title(title, subject), name)}


def failures_figure(
    series: Mapping[str, Sequence[Any]], *, subject: str | None = None, open_model: bool = False
) -> Figure:
    """Failures/s, and dropped iterations/s: arrivals that found the in-flight cap full.

    The dropped trace is always there (the live page extends both traces) but hidden in the
    legend for closed-model runs, which cannot drop iterations.
    """
    dropped = _line("dropped iterations/s", series["t"], series["dropped"], COLORS["planned"])
    if not open_model:
        dropped["visible"] = "legendonly"
    return {
        "data": [
            _line("failures/s", series["t"], series["failures"], COLORS["failures"], fill="tozeroy"),
            dropped,
        ],
        "layout": base_layout(subject_title("Failures per second", subject), "per second"),
    }


THRESHOLD_COLOR = "#b91c1c"
OFF_CHART = 3.0


def add_threshold_lines(fig: Figure, limits: Iterable[Row], *, metrics: Sequence[str]) -> Figure:
    """Dashed horizontal lines at the whole-run thresholds (dicts with metric, op, value,
    method) of ``metrics``, labelled like ``p95 < 500``; endpoint thresholds are left out
    (the chart is of all endpoints). Returns ``fig``, changed in place: shapes and
    annotations, so the live page's extended traces keep their indexes.

    A limit far above the data (over ``OFF_CHART`` times its highest point) would squash the
    lines into the bottom of the chart: it is named in the top corner instead of drawn."""
    layout = fig["layout"]
    highest = max(
        (y for trace in fig["data"] for y in trace.get("y", ()) if isinstance(y, (int, float))), default=0
    )
    for item in limits:
        if item.get("metric") not in metrics or item.get("method"):
            continue
        value = num(item.get("value"))
        if value is None:
            continue
        label = esc(f"{item.get('metric')} {item.get('op')} {value:g}")
        if highest > 0 and value > OFF_CHART * highest:
            layout.setdefault("annotations", []).append(
                {
                    "xref": "paper",
                    "x": 0,
                    "xanchor": "left",
                    "yref": "paper",
                    "y": 1,
                    "yanchor": "top",
                    "text": f"{label} (above the chart)",
                    "showarrow": False,
                    "font": {"size": 10, "color": THRESHOLD_COLOR},
                }
            )
            continue
        layout.setdefault("shapes", []).append(
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "yref": "y",
                "y0": value,
                "y1": value,
                "line": {"color": THRESHOLD_COLOR, "width": 1, "dash": "dash"},
            }
        )
        layout.setdefault("annotations", []).append(
            {
                "xref": "paper",
                "x": 1,
                "xanchor": "right",
                "yref": "y",
                "y": value,
                "yanchor": "bottom",
                "text": label,
                "showarrow": False,
                "font": {"size": 10, "color": THRESHOLD_COLOR},
            }
        )
    return fig


def run_figures(
    rows: Iterable[Row],
    *,
    planned: tuple[Sequence[float], Sequence[float]] | None = None,
    subject: str | None = None,
    open_model: bool = False,
    thresholds: Iterable[Row] = (),
    x_max: float | None = None,
) -> dict[str, Figure]:
    """The four time-series charts of a run, keyed like :data:`TIMESERIES_CHARTS`.

    ``x_max`` (the planned duration, or the last second if the run went on longer) gives all
    four one time axis from 0, so a live run's charts line up second by second and the planned
    curve does not stretch one chart alone.

    ``planned`` is the profile's curve: users for closed-model runs (drawn on the users
    chart), iterations/s for arrival-rate runs (drawn on the requests chart). ``thresholds``
    (the snapshot's dicts) add their limits to the latency and requests charts.
    """
    series = series_from_rows(rows)
    limits = list(thresholds)
    figs = {
        "rps": requests_figure(series, subject=subject, planned_rate=planned if open_model else None),
        "latency": latency_figure(series, subject=subject),
        "users": users_figure(
            series, planned=None if open_model else planned, subject=subject, open_model=open_model
        ),
        "failures": failures_figure(series, subject=subject, open_model=open_model),
    }
    if limits:
        add_threshold_lines(figs["latency"], limits, metrics=("p50", "p90", "p95", "p99", "max"))
        add_threshold_lines(figs["rps"], limits, metrics=("rps",))
    if x_max is not None and x_max > 0:
        for fig in figs.values():
            fig["layout"]["xaxis"]["range"] = [0, x_max]
            fig["layout"]["xaxis"]["autorange"] = False
    return figs


def profile_figure(
    xs: Sequence[float], ys: Sequence[float], *, subject: str | None = None, unit: str = "users"
) -> Figure:
    """The planned curve of a load profile: users over time, or for arrival-rate kinds
    (``unit="iterations/s"``, see ``profiles.preview_unit``) the planned arrival rate."""
    what = "Planned arrival rate" if unit == "iterations/s" else "Planned users"
    return {
        "data": [_line(f"planned {unit}", xs, ys, COLORS["users"], fill="tozeroy")],
        "layout": base_layout(subject_title(what, subject), unit, hovermode="closest", height=240),
    }


def endpoints_figure(rows: Iterable[Row]) -> Figure:
    """Grouped horizontal bars of p50/p95/p99 per endpoint (rows: method, name, p50_ms...)."""
    rows = list(rows)
    labels = [esc(f"{r.get('method', '')} {r.get('name', '')}".strip()) for r in rows]
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": key,
            "y": labels,
            "x": [num(r.get(f"{key}_ms")) for r in rows],
            "marker": {"color": COLORS[key]},
        }
        for key in ("p50", "p95", "p99")
    ]
    layout = base_layout(
        "Response time by endpoint",
        "",
        x_title="ms",
        barmode="group",
        hovermode="closest",
        height=max(180, 110 + 40 * len(rows)),
    )
    layout["yaxis"] = {"automargin": True, "autorange": "reversed"}
    return {"data": data, "layout": layout}


# Generator CPU above this (percent of one core) means the generator, not the target, may be
# what limits the run: Locust's own warning threshold is 90 %.
GENERATOR_CPU_LIMIT = 90.0
GENERATOR_COLORS = ("#2563eb", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#4b5563")


def generator_series(rows: Iterable[Row]) -> dict[int, dict[str, list[Any]]]:
    """Rows (generator, t, requests, failures, cpu_percent) -> per generator: t, rps, cpu lists."""
    out: dict[int, dict[str, list[Any]]] = {}
    for row in sorted(rows, key=lambda r: (int(r["generator"]), int(r["t"]))):
        series = out.setdefault(int(row["generator"]), {"t": [], "rps": [], "cpu": []})
        series["t"].append(int(row["t"]))
        series["rps"].append((num(row.get("requests")) or 0) / (row.get("span") or 1))
        series["cpu"].append(num(row.get("cpu_percent")))
    return out


def saturated_generators(rows: Iterable[Row], *, limit: float = GENERATOR_CPU_LIMIT) -> list[dict[str, Any]]:
    """Generators whose CPU went above ``limit``: index, peak CPU and seconds above it."""
    found = []
    for index, series in generator_series(rows).items():
        hot = [c for c in series["cpu"] if c is not None and c > limit]
        if hot:
            found.append({"generator": index, "cpu_max": max(hot), "seconds": len(hot)})
    return found


def generators_figures(rows: Iterable[Row], *, subject: str | None = None) -> dict[str, Figure]:
    """Throughput and CPU per generator of a distributed run: one line per generator, the
    CPU limit as a dotted line, so a saturated generator stands out from its siblings."""
    per = generator_series(rows)
    rps, cpu = [], []
    for n, (index, series) in enumerate(per.items()):
        color = GENERATOR_COLORS[n % len(GENERATOR_COLORS)]
        rps.append(_line(f"generator {index}", series["t"], series["rps"], color))
        cpu.append(_line(f"generator {index}", series["t"], series["cpu"], color))
    if per:
        xs = [min(s["t"][0] for s in per.values()), max(s["t"][-1] for s in per.values())]
        cpu.append(
            _line(
                f"{GENERATOR_CPU_LIMIT:.0f} % of a core",
                xs,
                [GENERATOR_CPU_LIMIT] * 2,
                COLORS["failures"],
                line={"color": COLORS["failures"], "width": 1, "dash": "dot"},
            )
        )
    return {
        "rps": {
            "data": rps,
            "layout": base_layout(subject_title("Requests per second by generator", subject), "req/s"),
        },
        "cpu": {
            "data": cpu,
            "layout": base_layout(subject_title("CPU by generator", subject), "% of one core"),
        },
    }
