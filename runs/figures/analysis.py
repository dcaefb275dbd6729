"""Plotly figure dicts for capacity curves and run comparisons.

Pure module: no ORM, no I/O. Inputs are ``runs.core.analysis`` results and plain rows; every
user-supplied string (plan names, endpoint names) goes through ``runs.figures.common.esc`` because
plotly.js renders a pseudo-HTML subset in trace names, titles and hover text. Long per-second
series are cut to ``MAX_POINTS`` per trace with ``downsample_minmax``, which keeps each bucket's
minimum and maximum so spikes survive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from runs.core.analysis import KneeResult, StepAggregate, UslFit, downsample_minmax, usl_curve
from runs.figures.common import COLORS, Figure, base_layout, esc, num, nums_array, subject_title
from runs.figures.control import marker_layout

MAX_POINTS = 1500

# Enough distinct colours for twenty runs or endpoints (Tableau 20, reordered for contrast).
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#aec7e8",
    "#ffbb78",
    "#98df8a",
    "#ff9896",
    "#c5b0d5",
    "#c49c94",
    "#f7b6d2",
    "#c7c7c7",
    "#dbdb8d",
    "#9edae5",
)


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


# Compared runs' step points: a symbol per run besides its colour (readable without colour),
# earlier runs drawn larger, so that equal points of two runs stay visible one inside the other.
RUN_SYMBOLS = ("circle", "square", "diamond", "triangle-up", "triangle-down", "cross", "x", "star")
# Their fitted curves: a dash pattern per run, so two equal fits still show both runs.
RUN_DASHES = ("dash", "dot", "dashdot", "longdash", "longdashdot")


def run_marker(i: int) -> dict[str, Any]:
    """Marker of the ``i``-th compared run's step points."""
    return {"color": color(i), "symbol": RUN_SYMBOLS[i % len(RUN_SYMBOLS)], "size": max(13 - 2 * i, 7)}


def _nums(values: Sequence[Any]) -> list[Any]:
    return [num(v) for v in values]


def _ci_bars(values: Sequence[float], cis: Sequence[tuple[float, float] | None]) -> dict[str, Any]:
    """Asymmetric error bars from (low, high) intervals; missing intervals draw no bar."""
    plus = [num(ci[1] - v) if ci else None for v, ci in zip(values, cis, strict=True)]
    minus = [num(v - ci[0]) if ci else None for v, ci in zip(values, cis, strict=True)]
    return {
        "type": "data",
        "symmetric": False,
        "array": plus,
        "arrayminus": minus,
        "thickness": 1.2,
        "width": 4,
    }


def _scatter(name: str, xs: Sequence[Any], ys: Sequence[Any], color_: str, **extra: Any) -> dict[str, Any]:
    trace: dict[str, Any] = {
        "type": "scatter",
        "mode": "lines+markers",
        "name": esc(name),
        "x": _nums(xs),
        "y": _nums(ys),
        "line": {"color": color_, "width": 2},
        "marker": {"color": color_, "size": 7},
    }
    trace.update(extra)
    return trace


# -- one run ------------------------------------------------------------------------------------
def throughput_vs_users_figure(
    steps: Sequence[StepAggregate],
    *,
    usl: UslFit | None = None,
    knee: KneeResult | None = None,
    subject: str | None = None,
) -> Figure:
    """Achieved req/s per step (with its CI) and the fitted USL curve over it."""
    users = [s.users for s in steps]
    rps = [s.throughput_rps for s in steps]
    data = [
        _scatter(
            "measured req/s",
            users,
            rps,
            COLORS["rps"],
            mode="markers",
            error_y=_ci_bars(rps, [s.throughput_ci for s in steps]),
            hovertemplate="%{x} users: %{y:.1f} req/s<extra></extra>",
        )
    ]
    if usl is not None and users:
        reach = max(users) * 1.25
        if usl.peak_users:
            reach = max(reach, min(usl.peak_users * 1.2, max(users) * 3))
        xs, ys = usl_curve(usl, max_users=reach, points=120)
        data.append(
            _scatter(
                f"USL fit (R² {usl.r_squared:.3f})",
                xs.tolist(),
                ys.tolist(),
                "#6b7280",
                mode="lines",
                line={"color": "#6b7280", "width": 1.5, "dash": "dash"},
                hovertemplate="%{x:.0f} users: %{y:.1f} req/s (USL)<extra></extra>",
            )
        )
        if usl.peak_users and usl.peak_throughput:
            data.append(
                _scatter(
                    "USL peak N*",
                    [usl.peak_users],
                    [usl.peak_throughput],
                    "#6b7280",
                    mode="markers",
                    marker={"color": "#6b7280", "size": 10, "symbol": "diamond-open"},
                    hovertemplate="N* %{x:.0f} users: %{y:.1f} req/s<extra></extra>",
                )
            )
    if knee is not None and knee.status == "knee" and knee.knee_users is not None:
        # The knee N* = X_max × (R₀ + Z) lies between steps as a rule: drawn where the
        # asymptotic bounds meet, at N* users and the maximum throughput.
        at = (
            [knee.max_throughput_rps]
            if knee.max_throughput_rps is not None
            else [s.throughput_rps for s in steps if s.users == knee.knee_users]
        )
        if at:
            data.append(
                _scatter(
                    "knee",
                    [knee.knee_users],
                    [float(np.mean(at))],
                    COLORS["p99"],
                    mode="markers",
                    marker={
                        "color": COLORS["p99"],
                        "size": 14,
                        "symbol": "circle-open",
                        "line": {"width": 2},
                    },
                    hovertemplate="knee ~%{x:.1f} users at %{y:.1f} req/s<extra></extra>",
                )
            )
    return {
        "data": data,
        "layout": base_layout(
            subject_title("Throughput vs users", subject), "requests/s", x_title="users", hovermode="closest"
        ),
    }


def latency_vs_users_figure(steps: Sequence[StepAggregate], *, subject: str | None = None) -> Figure:
    users = [s.users for s in steps]
    data = []
    for key in ("p50", "p95", "p99"):
        ys = [getattr(s, f"{key}_ms") for s in steps]
        extra: dict[str, Any] = {"hovertemplate": f"%{{x}} users: {key} %{{y:.1f}} ms<extra></extra>"}
        if key == "p95":
            extra["error_y"] = _ci_bars(ys, [s.p95_ci_ms for s in steps])
        data.append(_scatter(key, users, ys, COLORS[key], **extra))
    return {
        "data": data,
        "layout": base_layout(
            subject_title("Latency vs users", subject), "ms", x_title="users", hovermode="closest"
        ),
    }


def capacity_curve_figure(steps: Sequence[StepAggregate], *, subject: str | None = None) -> Figure:
    """Latency against achieved throughput: the capacity curve."""
    rps = [s.throughput_rps for s in steps]
    users = [s.users for s in steps]
    data = [
        _scatter(
            key,
            rps,
            [getattr(s, f"{key}_ms") for s in steps],
            COLORS[key],
            customdata=users,
            hovertemplate=f"%{{x:.1f}} req/s (%{{customdata}} users): {key} %{{y:.1f}} ms<extra></extra>",
        )
        for key in ("p50", "p95", "p99")
    ]
    return {
        "data": data,
        "layout": base_layout(
            subject_title("Capacity curve: latency vs achieved throughput", subject),
            "ms",
            x_title="achieved requests/s",
            hovermode="closest",
        ),
    }


def endpoint_capacity_figures(endpoint_steps: Mapping[str, Sequence[StepAggregate]]) -> dict[str, Figure]:
    """The three capacity charts with one trace per endpoint (p95 for latency)."""
    names = list(endpoint_steps)
    thr, lat, curve = [], [], []
    for i, name in enumerate(names):
        steps = endpoint_steps[name]
        users = [s.users for s in steps]
        rps = [s.throughput_rps for s in steps]
        p95 = [s.p95_ms for s in steps]
        c = color(i)
        thr.append(_scatter(name, users, rps, c, hovertemplate="%{x} users: %{y:.1f} req/s"))
        lat.append(_scatter(name, users, p95, c, hovertemplate="%{x} users: p95 %{y:.1f} ms"))
        curve.append(
            _scatter(
                name,
                rps,
                p95,
                c,
                customdata=users,
                hovertemplate="%{x:.1f} req/s (%{customdata} users): p95 %{y:.1f} ms",
            )
        )
    height = 320 + 18 * max(0, len(names) - 4)
    legend = {"orientation": "h", "x": 0, "y": -0.25, "yanchor": "top"}
    return {
        "throughput": {
            "data": thr,
            "layout": base_layout(
                "Throughput vs users, per endpoint",
                "requests/s",
                x_title="users",
                hovermode="closest",
                height=height,
                legend=legend,
                margin={"l": 56, "r": 16, "t": 40, "b": 120},
            ),
        },
        "latency": {
            "data": lat,
            "layout": base_layout(
                "p95 vs users, per endpoint",
                "ms",
                x_title="users",
                hovermode="closest",
                height=height,
                legend=legend,
                margin={"l": 56, "r": 16, "t": 40, "b": 120},
            ),
        },
        "curve": {
            "data": curve,
            "layout": base_layout(
                "Capacity curve per endpoint: p95 vs achieved throughput",
                "ms",
                x_title="achieved requests/s",
                hovermode="closest",
                height=height,
                legend=legend,
                margin={"l": 56, "r": 16, "t": 40, "b": 120},
            ),
        },
    }


def capacity_figures(
    steps: Sequence[StepAggregate],
    *,
    usl: UslFit | None = None,
    knee: KneeResult | None = None,
    endpoint_steps: Mapping[str, Sequence[StepAggregate]] | None = None,
) -> dict[str, Figure]:
    """All capacity charts of a run page, keyed by the element id suffix."""
    figs = {
        "cap-throughput": throughput_vs_users_figure(steps, usl=usl, knee=knee),
        "cap-latency": latency_vs_users_figure(steps),
        "cap-curve": capacity_curve_figure(steps),
    }
    if endpoint_steps and len(endpoint_steps) >= 1:
        per = endpoint_capacity_figures(endpoint_steps)
        figs.update({f"cap-ep-{key}": fig for key, fig in per.items()})
    return figs


# -- several runs -------------------------------------------------------------------------------
def _downsampled(xs: Sequence[Any], ys: Sequence[Any], max_points: int) -> tuple[list[Any], list[Any]]:
    y = np.asarray(ys, dtype=float)  # None becomes NaN
    x, y = downsample_minmax(np.asarray(xs, dtype=float), y, max_points)
    if np.isfinite(x).all() and (x == np.trunc(x)).all() and (np.abs(x) < 2.0**53).all():
        xs_out: list[Any] = x.astype(np.int64).tolist()  # whole seconds, as ints
    else:
        xs_out = [int(v) if v.is_integer() else v for v in x.tolist()]
    return xs_out, nums_array(y)


COMPARE_SERIES = {
    "rps": ("Requests per second", "requests/s"),
    "p95": ("p95 response time", "ms"),
    "error_pct": ("Error rate", "% of requests"),
}


def compare_timeseries_figures(
    labels: Sequence[str],
    series: Sequence[Mapping[str, Sequence[Any]]],
    *,
    max_points: int = MAX_POINTS,
) -> dict[str, Figure]:
    """Overlays of requests/s, p95 and error rate, one trace per run, aligned at the start.

    Seconds without data (no requests: no p95, no error rate) are left out, not drawn as zero.
    """
    figs: dict[str, Figure] = {}
    for key, (title, unit) in COMPARE_SERIES.items():
        data = []
        for i, (label, s) in enumerate(zip(labels, series, strict=True)):
            xs, ys = _downsampled(s["t"], s[key], max_points) if s["t"] else ([], [])
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": esc(label),
                    "x": xs,
                    "y": ys,
                    "line": {"color": color(i), "width": 1.5},
                }
            )
        figs[key] = {"data": data, "layout": base_layout(title, unit, hovermode="closest", height=320)}
    return figs


def compare_figures(
    labels: Sequence[str],
    series: Sequence[Mapping[str, Sequence[Any]]],
    capacity: Sequence[Sequence[Mapping[str, Any]]],
    usl: Sequence[Mapping[str, Any] | None],
    knees: Sequence[Mapping[str, Any] | None],
    controls: Sequence[Sequence[Mapping[str, Any]]] = (),
    short_labels: Sequence[str] = (),
) -> dict[str, Figure]:
    """Every chart of a comparison (its page and its shared link): the overlays, with each run's
    live changes (``controls``: markers {id, t, label}) as dotted lines in the run's colour,
    labelled with its ``short_labels`` entry ("#12"), the capacity curves and throughput
    against users."""
    figs = compare_timeseries_figures(labels, series)
    extra: dict[str, list[dict[str, Any]]] = {"shapes": [], "annotations": []}
    for i, markers in enumerate(controls):
        if not markers:
            continue
        one = marker_layout(
            markers, color=color(i), label_prefix=f"{short_labels[i]} ", start=len(extra["shapes"])
        )
        extra["shapes"] += one["shapes"]
        extra["annotations"] += one["annotations"]
    if extra["shapes"]:
        for fig in figs.values():
            fig["layout"].setdefault("shapes", []).extend(dict(x) for x in extra["shapes"])
            fig["layout"].setdefault("annotations", []).extend(dict(x) for x in extra["annotations"])
    figs["capacity"] = compare_capacity_figure(labels, capacity)
    figs["throughput"] = compare_throughput_figure(labels, capacity, usl, knees)
    return figs


def compare_capacity_figure(labels: Sequence[str], capacity: Sequence[Sequence[Mapping[str, Any]]]) -> Figure:
    """Capacity curves (p95 vs achieved req/s, one point per load step) of all runs."""
    data = []
    for i, (label, steps) in enumerate(zip(labels, capacity, strict=True)):
        data.append(
            _scatter(
                label,
                [s["rps"] for s in steps],
                [s["p95_ms"] for s in steps],
                color(i),
                marker=run_marker(i),
                customdata=[s["users"] for s in steps],
                hovertemplate="%{x:.1f} req/s (%{customdata} users): p95 %{y:.1f} ms",
            )
        )
    return {
        "data": data,
        "layout": base_layout(
            "Capacity curves: p95 vs achieved throughput (one point per load step)",
            "ms",
            x_title="achieved requests/s",
            hovermode="closest",
            height=360,
        ),
    }


def compare_throughput_figure(
    labels: Sequence[str],
    capacity: Sequence[Sequence[Mapping[str, Any]]],
    usl: Sequence[Mapping[str, Any] | None],
    knees: Sequence[Mapping[str, Any] | None] = (),
) -> Figure:
    """Throughput against users of every run: one point per load step, the run's fitted USL
    curve (dashed, same colour) where there is one, and its knee (open circle)."""
    data = []
    reach = max((s["users"] for steps in capacity for s in steps), default=0) * 1.15
    for i, (label, steps) in enumerate(zip(labels, capacity, strict=True)):
        c = color(i)
        name = label if steps else f"{label} (no load steps)"
        data.append(
            _scatter(
                name,
                [s["users"] for s in steps],
                [s["rps"] for s in steps],
                c,
                mode="markers",
                marker=run_marker(i),
                legendgroup=f"run{i}",
                hovertemplate="%{x} users: %{y:.1f} req/s<extra></extra>",
            )
        )
        fit = usl[i] if i < len(usl) else None
        if fit and steps and reach:
            # Stored JSON keeps non-finite floats as strings ("NaN"): float() reads them back.
            fit_values: dict[str, Any] = {k: float(v) if isinstance(v, str) else v for k, v in fit.items()}
            xs, ys = usl_curve(UslFit(**fit_values), max_users=reach, points=80)
            data.append(
                _scatter(
                    f"{label} USL fit",
                    xs.tolist(),
                    ys.tolist(),
                    c,
                    mode="lines",
                    line={"color": c, "width": 1.5, "dash": RUN_DASHES[i % len(RUN_DASHES)]},
                    legendgroup=f"run{i}",
                    showlegend=False,
                    hovertemplate="%{x:.0f} users: %{y:.1f} req/s (USL)<extra></extra>",
                )
            )
        knee = knees[i] if i < len(knees) else None
        if (
            knee
            and knee.get("status") == "knee"
            and knee.get("knee_users")
            and knee.get("max_throughput_rps")
        ):
            data.append(
                _scatter(
                    f"{label} knee",
                    [knee["knee_users"]],
                    [knee["max_throughput_rps"]],
                    c,
                    mode="markers",
                    marker={"color": c, "size": 17, "symbol": "circle-open", "line": {"width": 2}},
                    legendgroup=f"run{i}",
                    showlegend=False,
                    hovertemplate="knee ~%{x:.1f} users at %{y:.1f} req/s<extra></extra>",
                )
            )
    return {
        "data": data,
        "layout": base_layout(
            "Throughput vs users (points: load steps; dashed: USL fit; circle: knee)",
            "requests/s",
            x_title="users",
            hovermode="closest",
            height=360,
        ),
    }


# -- a plan's history ---------------------------------------------------------------------------
TREND_SYMBOLS = {"slower": "triangle-up", "faster": "triangle-down", "no significant change": "circle"}


def plan_trend_figures(points: Sequence[Any]) -> dict[str, Figure]:
    """Every run of a plan on a time axis (``selectors_trend.TrendPoint``): latency, throughput,
    capacity (max throughput and knee) and error rate. ``customdata`` holds the run id (a click
    opens the run); the hover names the version; the baseline is a star, a run slower or faster
    than it a triangle, a run that failed its thresholds a red ring."""
    xs = [p.started_at.isoformat() for p in points]
    ids = [p.run_id for p in points]
    hover = [
        f"run #{p.run_id}"
        + (f" · {esc(p.version)}" if p.version else "")
        + (" · baseline" if p.is_baseline else "")
        for p in points
    ]
    symbols = ["star" if p.is_baseline else TREND_SYMBOLS.get(p.verdict or "", "circle") for p in points]
    rings = ["#dc2626" if p.passed is False else "#ffffff" for p in points]
    # A star fills less of its box than a circle: the baseline's is drawn larger to read as big.
    sizes = [15 if p.is_baseline else 9 for p in points]

    def trace(name: str, ys: Sequence[Any], colour: str, unit: str) -> dict[str, Any]:
        drawn = _scatter(
            name,
            xs,
            ys,
            colour,
            customdata=ids,
            text=hover,
            marker={"color": colour, "size": sizes, "symbol": symbols, "line": {"color": rings, "width": 2}},
            hovertemplate=f"%{{text}}<br>{esc(name)} %{{y:.1f}} {unit}<extra></extra>",
        )
        drawn["x"] = list(xs)  # ISO times: _scatter keeps numbers only
        return drawn

    def layout(title: str, unit: str) -> dict[str, Any]:
        return base_layout(title, unit, x_title="run started", hovermode="closest", height=300)

    return {
        "trend-latency": {
            "data": [
                trace(k, [getattr(p, f"{k}_ms") for p in points], COLORS[k], "ms")
                for k in ("p50", "p95", "p99")
            ],
            "layout": layout("Latency per run", "ms"),
        },
        "trend-throughput": {
            "data": [
                trace("mean req/s", [p.rps for p in points], COLORS["rps"], "req/s"),
                trace("max throughput", [p.max_rps for p in points], "#6b7280", "req/s"),
            ],
            "layout": layout("Throughput per run", "requests/s"),
        },
        "trend-knee": {
            "data": [trace("knee", [p.knee_users for p in points], COLORS["p99"], "users")],
            "layout": layout("Knee per run (operational laws)", "users"),
        },
        "trend-errors": {
            "data": [
                trace(
                    "error rate",
                    [100.0 * p.error_rate if p.error_rate is not None else None for p in points],
                    "#dc2626",
                    "%",
                )
            ],
            "layout": layout("Error rate per run", "% of requests"),
        },
    }
