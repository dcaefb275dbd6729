"""Server metrics on the pages: sources edited on the target's page, series drawn under the load
charts (live and final), the live endpoint, and who may see them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from runs.models import MetricSource, Run, RunMetricPoint, RunMetricSeries, TestPlan
from tests.conftest import make_user
from tests.pages.conftest import HOSTILE, make_run


def add_series(
    run: Run, *, name: str = "slots_busy", limit: float | None = 8.0, values: dict[int, float]
) -> RunMetricSeries:
    series = RunMetricSeries.objects.create(
        run=run,
        source=f"demo {HOSTILE}",
        kind="scrape",
        name=name,
        expr="demo_slots_busy",
        unit="slots",
        limit=limit,
    )
    RunMetricPoint.objects.bulk_create(RunMetricPoint(series=series, t=t, value=v) for t, v in values.items())
    return series


def run_with_source(plan: TestPlan, **fields: Any) -> Run:
    """A run of ``plan`` whose target has a metrics source (its snapshot lists it)."""
    if not plan.target.metric_sources.exists():
        MetricSource.objects.create(
            target=plan.target, name="demo", url="http://127.0.0.1:1/metrics", series=[]
        )
    return make_run(plan, **fields)


def test_a_source_is_added_with_a_preset_and_its_url_passes_the_address_checks(
    db: None, alice_client: Client, seeded_plan: TestPlan
) -> None:
    target = seeded_plan.target
    url = reverse("runs-metric-source-create", args=[target.pk])
    refused = alice_client.post(
        url,
        {
            "name": "meta",
            "kind": "scrape",
            "url": "http://169.254.169.254/metrics",
            "preset": "node_exporter",
            "auth_type": "none",
        },
    )
    assert refused.status_code == 200 and "link-local" in refused.content.decode()
    bad = alice_client.post(
        url,
        {
            "name": "x",
            "kind": "scrape",
            "url": "http://127.0.0.1:9100/metrics",
            "series_text": "cpu | sum(x)",
            "auth_type": "none",
        },
    )
    assert "metric name" in bad.content.decode()
    assert not MetricSource.objects.exists()  # nothing saved on bad input
    ok = alice_client.post(
        url,
        {
            "name": "host",
            "kind": "scrape",
            "url": "http://127.0.0.1:9100/metrics",
            "series_text": "pool | app_pool_busy | connections | 20",
            "preset": "node_exporter",
            "auth_type": "bearer",
            "auth_token": "s3cret-token",
        },
    )
    assert ok.status_code == 302
    source = MetricSource.objects.get()
    assert [s["name"] for s in source.series][:3] == ["pool", "cpu_busy", "memory_used"]
    assert source.series[0]["limit"] == 20.0
    page = alice_client.get(reverse("runs-target-edit", args=[target.pk])).content.decode()
    assert "host" in page and "cpu_busy (%)" in page
    edit = alice_client.get(reverse("runs-metric-source-edit", args=[target.pk, source.pk])).content.decode()
    assert "s3cret-token" not in edit and "pool | app_pool_busy | connections | 20" in edit


def test_another_team_cannot_see_or_change_the_sources_or_series(
    db: None, seeded_plan: TestPlan, carol: Any
) -> None:
    source = MetricSource.objects.create(
        target=seeded_plan.target, name="s", url="http://127.0.0.1:1/metrics", series=[]
    )
    run = run_with_source(seeded_plan)
    add_series(run, values={0: 1.0})
    c = Client()
    c.force_login(carol)
    assert (
        c.get(reverse("runs-metric-source-edit", args=[seeded_plan.target.pk, source.pk])).status_code == 404
    )
    assert (
        c.post(reverse("runs-metric-source-delete", args=[seeded_plan.target.pk, source.pk])).status_code
        == 404
    )
    assert c.get(reverse("runs-metrics-live", args=[run.pk])).status_code == 404
    viewer = make_user("vera", team=seeded_plan.team, role="viewer")
    c.force_login(viewer)
    assert (
        c.post(reverse("runs-metric-source-delete", args=[seeded_plan.target.pk, source.pk])).status_code
        == 403
    )
    assert MetricSource.objects.filter(pk=source.pk).exists()


def test_the_live_endpoint_gives_each_series_with_gaps_and_its_limit(
    db: None, alice_client: Client, seeded_plan: TestPlan
) -> None:
    run = run_with_source(
        seeded_plan, status=Run.Status.RUNNING, finished_at=None, planned_seconds=10, last_t=4
    )
    series = add_series(run, values={0: 2.0, 1: 4.0, 3: 8.0})
    RunMetricSeries.objects.filter(pk=series.pk).update(warning="2 of 5 reads failed")
    data = alice_client.get(reverse("runs-metrics-live", args=[run.pk])).json()
    assert data["active"] is True and data["warnings"] == ["2 of 5 reads failed"]
    fig = data["charts"][0]["fig"]
    assert fig["data"][0]["x"] == [0, 1, 2, 3] and fig["data"][0]["y"] == [2.0, 4.0, None, 8.0]
    assert fig["data"][1]["y"] == [8.0, 8.0]  # the limit
    assert fig["layout"]["xaxis"]["range"] == [0, 10.0]  # the load charts' time axis
    assert "<img" not in fig["layout"]["title"]["text"]


def off_loop(work: Callable[[], object]) -> None:
    """Database work while Playwright's event loop runs in this thread: on another thread."""

    def target() -> None:
        try:
            work()
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=30)


@pytest.fixture
def live_metrics_run(transactional_db: None, seeded_plan: TestPlan) -> tuple[Run, RunMetricSeries]:
    run = run_with_source(
        seeded_plan, status=Run.Status.RUNNING, finished_at=None, planned_seconds=10, last_t=1
    )
    return run, add_series(run, values={0: 1.0, 1: 3.0})


@pytest.mark.slow
def test_the_run_page_draws_server_series_live_and_after_the_run(
    live_server: Any, alice: Any, live_metrics_run: tuple[Run, RunMetricSeries], browser_page: Any
) -> None:
    run, series = live_metrics_run
    page = browser_page
    base = live_server.url
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "alice-password-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/runs/{run.pk}/")
    page.wait_for_selector("#metric-0.js-plotly-plot .main-svg")
    assert "Server metrics" in page.inner_text("#server-metrics")
    # New values reach the live page without a reload.
    off_loop(
        lambda: RunMetricPoint.objects.bulk_create(
            [RunMetricPoint(series=series, t=2, value=6.0), RunMetricPoint(series=series, t=3, value=8.0)]
        )
    )
    page.wait_for_function("() => document.getElementById('metric-0').data[0].x.length === 4", timeout=15_000)
    assert page.evaluate("() => document.getElementById('metric-0').data[0].y") == [1, 3, 6, 8]
    assert page.evaluate("() => document.getElementById('metric-0').layout.xaxis.range") == [0, 10]
    assert page.evaluate("() => document.getElementById('chart-rps').layout.xaxis.range") == [0, 10]
    title = page.text_content("#metric-0 .gtitle") or ""
    assert HOSTILE in title and "slots" in title  # escaped text, shown as text
    # After the run: drawn from the stored series, with the warning of a failing source.
    off_loop(
        lambda: RunMetricSeries.objects.filter(pk=series.pk).update(warning="1 of 4 reads of “demo” failed")
    )
    off_loop(lambda: Run.objects.filter(pk=run.pk).update(status=Run.Status.FINISHED, last_t=3))
    page.goto(f"{base}/runs/{run.pk}/")
    page.wait_for_selector("#metric-0.js-plotly-plot .main-svg")
    assert page.evaluate("() => document.getElementById('metric-0').data[0].y") == [1, 3, 6, 8]
    assert "1 of 4 reads of “demo” failed" in page.inner_text("#server-metrics")
    assert not errors, errors
