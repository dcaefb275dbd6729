"""A self-contained HTML report of a run: one file that opens from disk with no network.

Figures come from the same pure builders as the run page (``runs.figures.runs``,
``runs.figures.analysis``) and reach the page the same way: ``json_script`` blocks (<, > and &
escaped, so no name can close the script element) drawn by ``static/js/charts.js``. That
script, plotly.min.js (the full bundle of the installed plotly package; pages load the basic
bundle of the same version, ``static/vendor/plotly/``) and ``static/css/app.css`` are inlined.
A Content-Security-Policy meta tag allows only those two scripts (by hash), inline styles and
data: images, and no connection at all: even a script that got in could neither run nor phone
home.

Builders take plain data (``RunReport``) and never a request or a user.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from runs.core.analysis.stored import capacity_from_data
from runs.core.exports.redact import snapshot_redacted
from runs.figures import analysis as figures_analysis
from runs.figures import metrics as figures_metrics
from runs.figures import runs as figures
from runs.figures.control import add_control_markers
from runs.selectors import catalog as selectors_catalog
from runs.selectors import metrics as selectors_metrics
from runs.selectors.export import RunReport

TEMPLATE = "runs/report.html"
_SCRIPT_END = re.compile(r"</(script)", re.IGNORECASE)
_STYLE_END = re.compile(r"</(style)", re.IGNORECASE)


@dataclass(frozen=True)
class Assets:
    plotly_js: str
    charts_js: str
    css: str


def _read(path: str | Path | None, what: str) -> str:
    if not path:
        raise FileNotFoundError(f"{what} was not found; the HTML report cannot inline it.")
    return Path(path).read_text(encoding="utf-8")


def plotly_js_dir() -> Path:
    """The folder of the installed plotly package's plotly.min.js."""
    import plotly  # on first use: 0.1 s at start-up that only the report needs

    return Path(plotly.__file__).resolve().parent / "package_data"


@functools.lru_cache(maxsize=1)
def report_assets() -> Assets:
    """plotly.min.js, charts.js and app.css, read once per process."""
    return Assets(
        plotly_js=_read(plotly_js_dir() / "plotly.min.js", "plotly.min.js"),
        charts_js=_read(finders.find("js/charts.js"), "static/js/charts.js"),
        css=_read(finders.find("css/app.css"), "static/css/app.css"),
    )


def inline_script(source: str) -> SafeString:
    """JS safe inside <script>…</script>: ``</script`` becomes ``<\\/script`` (the same string
    in JS), so the element cannot end early."""
    return mark_safe(_SCRIPT_END.sub(r"<\\/\1", source))  # noqa: S308 - our own files, made inert above


def inline_style(source: str) -> SafeString:
    return mark_safe(_STYLE_END.sub(r"<\\/\1", source))  # noqa: S308 - our own stylesheet


def csp_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode() + "'"


def report_figures(report: RunReport) -> dict[str, Any]:
    """Time-series, endpoint and (ended, stepped runs) capacity figures, keyed by element id."""
    run = report.run
    capacity = capacity_from_data(report.analysis) if report.analysis else None
    ts = figures.run_figures(
        report.seconds,
        planned=report.planned,
        open_model=bool(run.get("open_model")),
        thresholds=report.thresholds,
    )
    add_control_markers(ts, report.markers)
    endpoints = (
        figures.endpoints_figure(report.endpoints) if report.endpoints and not run.get("is_active") else None
    )
    cap_figs = (
        figures_analysis.capacity_figures(
            capacity.steps, usl=capacity.usl, knee=capacity.knee, endpoint_steps=capacity.endpoint_steps
        )
        if capacity and capacity.show_capacity
        else {}
    )
    return {
        "timeseries": {f"fig-{key}": fig for key, fig in ts.items()},
        "endpoints": endpoints,
        "capacity": cap_figs,
        "capacity_analysis": capacity,
    }


def report_html(report: RunReport, *, assets: Assets | None = None, generated_at: Any = None) -> str:
    """The report as one HTML document (a few MB: plotly.min.js alone is 4.8 MB)."""
    assets = assets or report_assets()
    plotly_js = inline_script(assets.plotly_js)
    charts_js = inline_script(assets.charts_js)
    snapshot = snapshot_redacted(report.snapshot)
    profile = snapshot.get("profile") or {}
    built = report_figures(report)
    context = {
        "run": report.run,
        "snapshot": snapshot,
        "steps": selectors_catalog.snapshot_steps(snapshot=snapshot),
        "profile_params": selectors_catalog.profile_param_rows(
            kind=profile.get("kind", ""), params=profile.get("params") or {}
        ),
        "endpoints": report.endpoints,
        "errors": report.errors,
        "figs": built["timeseries"],
        "endpoints_fig": built["endpoints"],
        "capacity": built["capacity_analysis"],
        "capacity_figs": built["capacity"],
        "report_baseline": report.baseline,
        "threshold_rows": report.threshold_rows,
        "metric_figs": figures_metrics.metric_figures(
            report.server_series,
            x_max=max(
                float(report.run.get("planned_seconds") or 0), float(int(report.run.get("last_t", -1)) + 1)
            ),
        ),
        "metric_warnings": selectors_metrics.run_metric_warnings(rows=report.server_series),
        "server_capacity": figures_metrics.server_capacity((report.analysis or {}).get("server")),
        "summary": {"error_pct": 100.0 * float(report.run.get("error_rate") or 0.0)},
        "generated_at": generated_at or timezone.now(),
        "plotly_js": plotly_js,
        "charts_js": charts_js,
        "css": inline_style(assets.css),
        "csp": (
            "default-src 'none'; "
            f"script-src {csp_hash(plotly_js)} {csp_hash(charts_js)}; "
            "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; "
            "connect-src 'none'; form-action 'none'; base-uri 'none'"
        ),
    }
    return render_to_string(TEMPLATE, context)
