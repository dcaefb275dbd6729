"""The export views over stored runs (real PostgreSQL, no Locust)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from runs.core.exports.csv import ALL_ENDPOINTS
from runs.core.exports.json import SCHEMA_VERSION
from runs.models import EndpointSecond, Run, RunAnalysis, TestPlan
from runs.services.analysis import run_analyse
from tests.exports.conftest import SECRETS
from tests.pages.conftest import HOSTILE, make_run
from tests.pages.test_analysis_pages import ENDPOINTS, LEVELS, STEP_SECONDS, seed_run

pytestmark = pytest.mark.django_db

VIEWS = ("runs-export-csv", "runs-export-json", "runs-report")


def body(response: Any) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


@pytest.fixture
def staircase_run(staircase_plan: TestPlan) -> Run:
    run = seed_run(staircase_plan)
    run_analyse(run_id=run.pk)
    return run


@pytest.mark.parametrize("name", VIEWS)
def test_anonymous_visitors_are_sent_to_log_in(client: Client, finished_run: Run, name: str) -> None:
    response = client.get(reverse(name, args=[finished_run.pk]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("name", VIEWS)
def test_only_get_is_allowed(alice_client: Client, finished_run: Run, name: str) -> None:
    assert alice_client.post(reverse(name, args=[finished_run.pk])).status_code == 405


@pytest.mark.parametrize("name", VIEWS)
def test_a_missing_run_is_404(alice_client: Client, name: str) -> None:
    assert alice_client.get(reverse(name, args=[999_999])).status_code == 404


def test_the_run_page_links_the_three_downloads(alice_client: Client, finished_run: Run) -> None:
    html = alice_client.get(reverse("runs-detail", args=[finished_run.pk])).content.decode()
    for name in VIEWS:
        assert f'href="{reverse(name, args=[finished_run.pk])}" download' in html


def test_csv_has_every_second_and_endpoint_of_a_staircase_run(
    alice_client: Client, staircase_run: Run
) -> None:
    response = alice_client.get(reverse("runs-export-csv", args=[staircase_run.pk]))
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="scaletest-run-{staircase_run.pk}-stairs-img-srcx-onerroralert1.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(body(response))))
    seconds = len(LEVELS) * STEP_SECONDS
    assert len(rows) == seconds * (1 + len(ENDPOINTS))
    overall = [r for r in rows if r["name"] == ALL_ENDPOINTS]
    assert [int(r["t"]) for r in overall] == list(range(seconds))
    assert sum(int(r["requests"]) for r in overall) == staircase_run.total_requests
    # Per endpoint, the requests add up to the stored per-second rows.
    for method, name in ENDPOINTS:
        mine = [r for r in rows if r["method"] == method and r["name"] == name]
        assert len(mine) == seconds
        stored = EndpointSecond.objects.filter(run=staircase_run, method=method, name=name)
        assert sum(int(r["requests"]) for r in mine) == sum(stored.values_list("requests", flat=True))
    first = EndpointSecond.objects.get(run=staircase_run, t=0, method="GET", name="/")
    row = next(r for r in rows if r["t"] == "0" and r["name"] == "/")
    assert float(row["p95_ms"]) == first.p95_ms
    assert overall[0]["users"] == str(LEVELS[0]) and overall[-1]["users"] == str(LEVELS[-1])


def test_csv_guards_against_formula_injection_in_stored_names(
    alice_client: Client, finished_run: Run
) -> None:
    EndpointSecond.objects.create(
        run=finished_run, t=0, method="GET", name='=HYPERLINK("http://x")', requests=1
    )
    EndpointSecond.objects.create(run=finished_run, t=1, method="GET", name="@SUM(1)", requests=1)
    rows = list(
        csv.DictReader(
            io.StringIO(body(alice_client.get(reverse("runs-export-csv", args=[finished_run.pk]))))
        )
    )
    names = [r["name"] for r in rows if r["method"]]
    assert names == ['\'=HYPERLINK("http://x")', "'@SUM(1)"]


def test_json_export_has_the_whole_run_and_its_analysis(alice_client: Client, staircase_run: Run) -> None:
    response = alice_client.get(reverse("runs-export-json", args=[staircase_run.pk]))
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].endswith('.json"')
    doc = json.loads(body(response))
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["run"]["id"] == staircase_run.pk and doc["run"]["status"] == "finished"
    assert doc["totals"]["requests"] == staircase_run.total_requests
    assert doc["summary"]["p95_ms"] == staircase_run.p95_ms
    assert sorted((e["method"], e["name"]) for e in doc["endpoints"]) == sorted(ENDPOINTS)
    stored = RunAnalysis.objects.get(run=staircase_run)
    assert doc["analysis"]["version"] == stored.version
    assert doc["analysis"]["data"]["knee"]["knee_users"] == 8
    assert [s["users"] for s in doc["analysis"]["data"]["steps"]] == list(LEVELS)
    seconds = len(LEVELS) * STEP_SECONDS
    assert len(doc["series"]["overall"]["rows"]) == seconds
    assert len(doc["series"]["endpoints"]["rows"]) == seconds * len(ENDPOINTS)
    assert "histogram" not in doc["series"]["overall"]["columns"]
    assert HOSTILE in {row[2] for row in doc["series"]["endpoints"]["rows"]}


def test_json_with_histograms_includes_the_raw_histograms(alice_client: Client, staircase_run: Run) -> None:
    doc = json.loads(
        body(alice_client.get(reverse("runs-export-json", args=[staircase_run.pk]) + "?histograms=1"))
    )
    assert doc["series"]["histograms"] is True
    columns = doc["series"]["endpoints"]["columns"]
    row = doc["series"]["endpoints"]["rows"][0]
    hist = row[columns.index("histogram")]
    assert sum(hist["c"]) == row[columns.index("requests")]
    assert "histogram" in doc["endpoints"][0]


def test_json_rejects_a_nonsense_histograms_flag(alice_client: Client, finished_run: Run) -> None:
    response = alice_client.get(reverse("runs-export-json", args=[finished_run.pk]) + "?histograms=maybe")
    assert response.status_code == 400 and b"histograms must be 1 or 0" in response.content


def test_json_export_query_count_does_not_grow_with_seconds_or_endpoints(
    alice_client: Client, staircase_plan: TestPlan, django_assert_num_queries: Any
) -> None:
    small = seed_run(staircase_plan, levels=(2, 8, 14), step_seconds=12)
    big = seed_run(staircase_plan, seed=1)
    for run in (small, big):
        run_analyse(run_id=run.pk)
        # session, user, the user's teams, run, summaries, errors, analysis, seconds, endpoint seconds
        with django_assert_num_queries(9):
            body(alice_client.get(reverse("runs-export-json", args=[run.pk]) + "?histograms=1"))
        with django_assert_num_queries(9):
            body(alice_client.get(reverse("runs-export-json", args=[run.pk])))
    with django_assert_num_queries(6):  # session, user, teams, run, seconds, endpoint seconds
        body(alice_client.get(reverse("runs-export-csv", args=[big.pk])))


def test_a_run_without_a_stored_analysis_gets_one(alice_client: Client, staircase_plan: TestPlan) -> None:
    run = seed_run(staircase_plan)
    assert not RunAnalysis.objects.filter(run=run).exists()
    doc = json.loads(body(alice_client.get(reverse("runs-export-json", args=[run.pk]))))
    assert doc["analysis"]["data"]["knee"]["knee_users"] == 8
    assert RunAnalysis.objects.filter(run=run).exists()


@pytest.mark.parametrize("name", VIEWS)
def test_no_export_contains_a_secret_of_the_plan(
    alice_client: Client, secret_plan: TestPlan, name: str
) -> None:
    run = make_run(secret_plan, total_requests=0, last_t=-1)
    assert SECRETS[0] in json.dumps(run.snapshot)  # the snapshot does hold them
    text = body(alice_client.get(reverse(name, args=[run.pk])))
    for secret in SECRETS:
        assert secret not in text, (name, secret)


def test_the_report_is_an_attachment_with_the_run_page_data(alice_client: Client, staircase_run: Run) -> None:
    response = alice_client.get(reverse("runs-report", args=[staircase_run.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="scaletest-run-{staircase_run.pk}-stairs-img-srcx-onerroralert1.html"'
    )
    html = response.content.decode()
    for element in (
        'id="capacity"',
        'id="knee-users"',
        'id="endpoint-table"',
        'id="error-table"',
        'id="bottlenecks"',
        'id="fig-rps"',
        'id="fig-endpoints"',
        'id="cap-throughput"',
        'id="snapshot"',
    ):
        assert element in html, element
    assert "<strong>8 users</strong>" in html.split('id="knee-users">')[1].split("</dd>")[0]
    assert HOSTILE not in html  # escaped everywhere


def test_the_report_of_a_run_with_a_baseline_shows_the_verdict(
    alice_client: Client, staircase_plan: TestPlan
) -> None:
    baseline = seed_run(staircase_plan, seed=1)
    slower = seed_run(staircase_plan, seed=2, latency_factor=1.5)
    TestPlan.objects.filter(pk=staircase_plan.pk).update(baseline_run=baseline)
    html = body(alice_client.get(reverse("runs-report", args=[slower.pk])))
    verdict = html.split('id="baseline-verdict"')[1].split("</section>")[0]
    assert f"baseline run #{baseline.pk}" in verdict and ">slower</strong>" in verdict
    assert "href" not in verdict  # no links back to the server in a file opened from disk


@pytest.mark.parametrize("name", VIEWS)
def test_another_teams_run_is_404_in_every_export(finished_run: Run, carol: Any, name: str) -> None:
    c = Client()
    c.force_login(carol)
    assert c.get(reverse(name, args=[finished_run.pk])).status_code == 404


def test_the_threshold_verdicts_are_in_the_json_and_the_report(
    alice_client: Client, finished_run: Run
) -> None:
    from runs.core.thresholds import parse_thresholds
    from runs.services.thresholds import run_thresholds_evaluate

    snapshot = dict(finished_run.snapshot)
    snapshot["thresholds"] = [t.to_dict() for t in parse_thresholds("p95 < 1000\nerror_rate < 1%")]
    Run.objects.filter(pk=finished_run.pk).update(snapshot=snapshot)
    finished_run.refresh_from_db()
    run_thresholds_evaluate(run_id=finished_run.pk)
    finished_run.refresh_from_db()
    assert finished_run.passed is False  # 3 failures in 60 requests: 5 % errors

    data = json.loads(body(alice_client.get(reverse("runs-export-json", args=[finished_run.pk]))))
    assert data["run"]["passed"] is False
    verdicts = {r["label"]: r["verdict"] for r in data["run"]["threshold_results"]}
    # This stored run has no histograms, so its p95 cannot be judged (and does not pass).
    assert verdicts == {"p95 < 1000 ms": "not_evaluable", "error_rate < 1%": "failed"}
    report = body(alice_client.get(reverse("runs-report", args=[finished_run.pk])))
    table = report.split('id="thresholds"', 1)[1].split("</section>", 1)[0]
    assert "p95 &lt; 1000 ms" in table and 'data-verdict="failed"' in table
    assert 'data-verdict="not_evaluable"' in table
