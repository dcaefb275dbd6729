"""Server series in every way a run leaves the server: CSV, JSON, the HTML report and the share
page; a metrics source's credentials never do."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from runs.core.exports.csv import SERVER
from runs.models import MetricSource, Run, RunMetricPoint, RunMetricSeries, TestPlan
from runs.services.shares import share_create_run
from tests.pages.conftest import make_run

pytestmark = pytest.mark.django_db

PASSWORD, TOKEN = "mtr-pass-8c1f", "mtr-token-51ab"


def body(response: Any) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


@pytest.fixture
def metrics_run(seeded_plan: TestPlan) -> Run:
    MetricSource.objects.create(
        target=seeded_plan.target,
        name="pool",
        kind="prometheus",
        url=f"http://admin:{PASSWORD}@127.0.0.1:9090",
        auth_type="bearer",
        auth_token=TOKEN,
        series=[{"name": "busy", "expr": "sum(app_busy)", "unit": "conns", "limit": 20}],
    )
    run = make_run(seeded_plan, last_t=2)
    series = RunMetricSeries.objects.create(
        run=run, source="pool", kind="prometheus", name="busy", expr="sum(app_busy)", unit="conns", limit=20
    )
    RunMetricPoint.objects.bulk_create(
        RunMetricPoint(series=series, t=t, value=v) for t, v in ((0, 3.0), (2, 19.5))
    )
    return run


def test_the_csv_has_a_row_per_stored_server_value(alice_client: Client, metrics_run: Run) -> None:
    text = body(alice_client.get(reverse("runs-export-csv", args=[metrics_run.pk])))
    rows = [r for r in csv.DictReader(io.StringIO(text)) if r["method"] == SERVER]
    assert [(r["t"], r["name"], r["value"]) for r in rows] == [
        ("0", "pool.busy", "3.0"),
        ("2", "pool.busy", "19.5"),
    ]
    assert PASSWORD not in text and TOKEN not in text


def test_the_json_has_the_series_and_no_credentials(alice_client: Client, metrics_run: Run) -> None:
    text = body(alice_client.get(reverse("runs-export-json", args=[metrics_run.pk])))
    doc = json.loads(text)
    [series] = doc["server_series"]
    assert (series["source"], series["name"], series["unit"], series["limit"]) == (
        "pool",
        "busy",
        "conns",
        20.0,
    )
    assert series["points"] == [[0, 3.0], [2, 19.5]]
    [source] = doc["snapshot"]["metric_sources"]
    assert source["auth_token"] == "[redacted]" and PASSWORD not in source["url"]
    assert PASSWORD not in text and TOKEN not in text


def test_the_report_and_the_share_page_draw_the_series(
    alice_client: Client, alice: Any, metrics_run: Run
) -> None:
    report = body(alice_client.get(reverse("runs-report", args=[metrics_run.pk])))
    assert 'id="server-metrics"' in report and 'id="metric-0"' in report
    assert PASSWORD not in report and TOKEN not in report
    _, token = share_create_run(run=metrics_run, user=alice)
    shared = Client().get(reverse("share-page", args=[token])).content.decode()
    assert 'id="server-metrics"' in shared and 'id="metric-0"' in shared
    assert "metrics.js" not in shared  # nothing polls a team URL from a share page
    assert PASSWORD not in shared and TOKEN not in shared
