"""A run whose analysis cannot be computed still shows what was measured, everywhere.

The failure is real stored data, not a patched function: one per-second histogram that ends
in the middle of a number (as a half-written or hand-edited row would). The run page, its
report and exports, the API and the comparison must answer with the measured results and a
plain message, never a 500; the failed analysis is not stored, so a fixed row is analysed on
the next view.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from runs.models import Run, RunAnalysis, RunSecond, TestPlan
from runs.services.analysis import ANALYSIS_FAILED
from tests.api.conftest import api_for
from tests.pages.test_analysis_pages import seed_run, staircase_plan  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def corrupt(run: Run) -> None:
    row = RunSecond.objects.filter(run=run, t=40).get()
    assert row.histogram  # a second of two endpoints keeps its own histogram
    row.histogram = bytes(row.histogram) + b"\x80"
    row.save(update_fields=["histogram"])


@pytest.fixture
def broken_run(staircase_plan: TestPlan) -> Run:  # noqa: F811
    run = seed_run(staircase_plan)
    corrupt(run)
    return run


def test_the_run_page_shows_the_measured_results_and_says_the_analysis_failed(
    alice_client: Client, broken_run: Run, caplog: pytest.LogCaptureFixture
) -> None:
    response = alice_client.get(reverse("runs-detail", args=[broken_run.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert ANALYSIS_FAILED in body
    assert 'id="capacity"' not in body  # no capacity section built from nothing
    assert f"<dt>p95</dt><dd>{broken_run.p95_ms:.1f} ms</dd>" in body  # the measured summary
    assert 'id="chart-latency"' in body  # and the per-second charts
    assert "stored histogram: truncated" in caplog.text  # the log has the cause
    assert not RunAnalysis.objects.filter(run=broken_run).exists()


def test_a_repaired_row_is_analysed_on_the_next_view(
    alice_client: Client,
    broken_run: Run,
    staircase_plan: TestPlan,  # noqa: F811
) -> None:
    assert ANALYSIS_FAILED in alice_client.get(reverse("runs-detail", args=[broken_run.pk])).content.decode()
    healthy = seed_run(staircase_plan)
    good = RunSecond.objects.get(run=healthy, t=40).histogram
    RunSecond.objects.filter(run=broken_run, t=40).update(histogram=good)
    body = alice_client.get(reverse("runs-detail", args=[broken_run.pk])).content.decode()
    assert ANALYSIS_FAILED not in body and "knee at 8 users" in body
    assert RunAnalysis.objects.filter(run=broken_run).exists()


def test_report_and_exports_of_such_a_run_download(alice_client: Client, broken_run: Run) -> None:
    report = alice_client.get(reverse("runs-report", args=[broken_run.pk]))
    assert report.status_code == 200 and ANALYSIS_FAILED in report.content.decode()
    export = alice_client.get(reverse("runs-export-json", args=[broken_run.pk]))
    assert export.status_code == 200
    data = json.loads(export.getvalue())
    assert data["run"]["total_requests"] == broken_run.total_requests
    csv = alice_client.get(reverse("runs-export-csv", args=[broken_run.pk]))
    assert csv.status_code == 200 and len(csv.getvalue().splitlines()) > 100


def test_the_api_analysis_of_such_a_run_is_json_with_the_message(alice: Any, broken_run: Run) -> None:
    response = api_for(alice).get(f"/runs/{broken_run.pk}/analysis")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["available"] is True
    assert body["capacity"]["error"] == ANALYSIS_FAILED and body["capacity"]["steps"] == []


def test_a_comparison_with_such_a_run_draws_the_others(
    alice_client: Client,
    broken_run: Run,
    staircase_plan: TestPlan,  # noqa: F811
) -> None:
    other = seed_run(staircase_plan, seed=1)
    response = alice_client.get(reverse("runs-compare") + f"?ids={other.pk},{broken_run.pk}")
    assert response.status_code == 200
    body = response.content.decode()
    assert f"#{broken_run.pk}" in body and f"#{other.pk}" in body


def test_an_unexpected_api_error_is_a_json_500(alice: Any, finished_run: Run) -> None:
    # A real failure inside a handler: the table it reads is gone (rolled back after the test).
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # the fixture's rows have deferred FK checks pending
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("DROP TABLE runs_errorgroup")
    client = api_for(alice)
    client.client = Client(raise_request_exception=False, enforce_csrf_checks=True)
    response = client.get(f"/runs/{finished_run.pk}/errors")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": "Internal server error: the server log has the details."}
