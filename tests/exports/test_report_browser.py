"""The HTML report opened from disk in headless Chromium with every network request refused."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Dialog

from runs.models import EndpointSummary, ErrorGroup, Run, TestPlan
from runs.services.analysis import run_analyse
from tests.pages.test_analysis_pages import seed_run

pytestmark = [pytest.mark.django_db, pytest.mark.slow, pytest.mark.browser]

SCRIPT_PAYLOAD = "</script><script>window.__xss = 'name'</script>"
IMG_PAYLOAD = "<img src=x onerror=\"window.__xss='img'\">"


def open_offline(page: Any, path: Path) -> dict[str, list[str]]:
    """Open ``path`` via file:// with every non-file request aborted; collect what happened."""
    seen: dict[str, list[str]] = {"errors": [], "network": [], "dialogs": []}

    def route(r: Any) -> None:
        if r.request.url.startswith("file:"):
            r.continue_()
        else:
            seen["network"].append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))

    def on_dialog(d: Dialog) -> None:
        seen["dialogs"].append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    page.on(
        "request",
        lambda r: None if r.url.startswith(("file:", "data:", "blob:")) else seen["network"].append(r.url),
    )
    page.goto(path.as_uri())
    return seen


def expected_traces(html: str) -> dict[str, int]:
    blocks = dict(re.findall(r'<script id="([^"]+)" type="application/json">(.*?)</script>', html, re.S))
    return {key: len(json.loads(text)["data"]) for key, text in blocks.items()}


@pytest.fixture
def hostile_staircase_run(staircase_plan: TestPlan) -> Run:
    run = seed_run(staircase_plan)
    assert run.started_at is not None
    EndpointSummary.objects.filter(run=run, method="POST").update(name=SCRIPT_PAYLOAD)
    EndpointSummary.objects.filter(run=run, method="GET").update(name=IMG_PAYLOAD)
    ErrorGroup.objects.create(
        run=run,
        method="POST",
        name=SCRIPT_PAYLOAD,
        error_class="HTTPError",
        message=IMG_PAYLOAD,
        count=2,
        first_seen=run.started_at,
        last_seen=run.started_at,
    )
    run_analyse(run_id=run.pk)
    return run


@pytest.fixture
def report_file(alice_client: Client, hostile_staircase_run: Run, tmp_path: Path) -> Path:
    """The downloaded report on disk. Made before ``browser_page``: Playwright's sync API runs an
    event loop in this thread, and Django refuses ORM calls while one runs."""
    response = alice_client.get(reverse("runs-report", args=[hostile_staircase_run.pk]))
    path = tmp_path / "report.html"
    path.write_bytes(response.content)
    return path


def test_the_report_draws_every_chart_offline_and_runs_no_injected_script(
    report_file: Path, browser_page: Any
) -> None:
    path = report_file
    html = path.read_text(encoding="utf-8")
    traces = expected_traces(html)
    assert {"fig-rps", "fig-latency", "fig-users", "fig-failures", "fig-endpoints", "cap-throughput"} <= set(
        traces
    )

    page = browser_page
    seen = open_offline(page, path)
    page.wait_for_function(
        "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n && "
        "Array.from(document.querySelectorAll('[data-figure]'))"
        ".every(el => el.classList.contains('js-plotly-plot'))",
        arg=len(traces),
    )
    drawn = page.evaluate(
        "() => Object.fromEntries(Array.from(document.querySelectorAll('[data-figure]'))"
        ".map(el => [el.dataset.figure, el.data.length]))"
    )
    assert drawn == traces
    # Real SVG traces were rendered, not just empty plot frames.
    assert page.locator("#chart-fig-rps .scatterlayer .trace").count() >= 1
    assert page.locator("#chart-endpoints .barlayer .trace").count() == 3

    assert page.evaluate("() => window.__xss") is None
    assert seen["dialogs"] == []
    assert seen["network"] == []
    assert seen["errors"] == []
    # The payloads are shown as text, in the tables and in the chart labels.
    assert page.locator("#endpoint-table").inner_text().count(SCRIPT_PAYLOAD) == 1
    assert IMG_PAYLOAD in page.locator("#error-table").inner_text()
    assert page.locator("#endpoint-table img, #error-table img, #chart-endpoints img").count() == 0
    labels = page.locator("#chart-endpoints .ytick text").all_text_contents()
    assert f"POST {SCRIPT_PAYLOAD}" in labels
