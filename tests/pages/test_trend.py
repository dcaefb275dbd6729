"""A plan's trend: every run of the plan on a time axis, on its page and through the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from runs.models import Run, TestPlan
from runs.services.analysis import run_analyse
from tests.api.conftest import api_for
from tests.pages.test_capacity_pages import eight_second_run, log_in, make_8s_plan
from tests.pages.test_pages import json_script


def history(plan: TestPlan, n: int) -> list[Run]:
    """``n`` analysed 8-second staircase runs of ``plan``, an hour apart; the first is the
    baseline, the last 30 % slower."""
    runs = []
    start = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
    for i in range(n):
        run = eight_second_run(plan, seed=i, latency_factor=1.3 if i == n - 1 else 1.0)
        Run.objects.filter(pk=run.pk).update(
            started_at=start + dt.timedelta(hours=i), version=f"v1.{i}", passed=i != 1
        )
        run_analyse(run_id=run.pk)
        runs.append(run)
    plan.baseline_run = runs[0]
    plan.save(update_fields=["baseline_run"])
    return runs


@pytest.mark.django_db
def test_the_trend_page_shows_every_run_with_its_capacity_and_verdict(
    alice: Any, alice_client: Client, django_assert_num_queries: Any
) -> None:
    plan = make_8s_plan(alice)
    runs = history(plan, 4)
    # Comparing with the baseline stores the verdicts the trend shows.
    alice_client.get(reverse("runs-compare"), {"ids": ",".join(str(r.pk) for r in runs)})
    # session, user, teams, the plan, runs, capacity keys, the baseline's stored verdicts
    with django_assert_num_queries(7):
        response = alice_client.get(reverse("runs-plan-trend", args=[plan.pk]))
    body = response.content.decode()
    table = body.split('id="trend-runs"')[1].split("</table>")[0]
    rows = {int(r.split('"')[0]): r for r in table.split('data-run="')[1:]}
    assert list(rows) == [r.pk for r in runs][::-1]  # the table lists the newest first
    assert ">baseline</span>" in rows[runs[0].pk]
    assert ">slower</span>" in rows[runs[-1].pk]
    assert ">no significant change</span>" in rows[runs[2].pk]
    assert "v1.2" in rows[runs[2].pk]
    for run in runs:
        cells = rows[run.pk]
        assert "~8</td>" in cells or "~7.9</td>" in cells or "~8.1</td>" in cells or "~7.8</td>" in cells
    fig = json_script(response, "trend-latency")
    assert [t["name"] for t in fig["data"]] == ["p50", "p95", "p99"]
    assert fig["data"][1]["customdata"] == [r.pk for r in runs]
    assert (
        fig["data"][1]["marker"]["symbol"][0] == "star"
        and fig["data"][1]["marker"]["symbol"][-1] == "triangle-up"
    )
    assert fig["data"][1]["marker"]["line"]["color"][1] == "#dc2626"  # failed its thresholds
    assert fig["data"][1]["marker"]["size"][0] > fig["data"][1]["marker"]["size"][-1]  # the star reads as big
    knee = json_script(response, "trend-knee")["data"][0]["y"]
    assert all(k == pytest.approx(8, rel=0.15) for k in knee)
    # More runs: the same queries.
    history(plan, 3)
    with django_assert_num_queries(7):
        alice_client.get(reverse("runs-plan-trend", args=[plan.pk]))


@pytest.mark.django_db
def test_the_trend_api_lists_every_run_and_hides_other_teams_plans(alice: Any, carol: Any) -> None:
    plan = make_8s_plan(alice)
    runs = history(plan, 3)
    response = api_for(alice).get(f"/plans/{plan.pk}/trend")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["plan"] == plan.pk and data["baseline_run"] == runs[0].pk
    assert [r["run_id"] for r in data["runs"]] == [r.pk for r in runs]
    assert data["runs"][0]["is_baseline"] and data["runs"][1]["passed"] is False
    assert data["runs"][2]["knee_users"] == pytest.approx(8, rel=0.15)
    assert data["runs"][2]["max_rps"] == pytest.approx(160, rel=0.05)
    assert api_for(carol).get(f"/plans/{plan.pk}/trend").status_code == 404


@pytest.mark.django_db
def test_a_plan_without_runs_says_so(alice: Any, alice_client: Client, carol: Any) -> None:
    plan = make_8s_plan(alice)
    body = alice_client.get(reverse("runs-plan-trend", args=[plan.pk])).content.decode()
    assert 'id="trend-empty"' in body
    detail = alice_client.get(reverse("runs-plan-detail", args=[plan.pk])).content.decode()
    assert reverse("runs-plan-trend", args=[plan.pk]) in detail
    carol_client = Client()
    carol_client.force_login(carol)
    assert carol_client.get(reverse("runs-plan-trend", args=[plan.pk])).status_code == 404


@pytest.fixture
def plan_with_history(transactional_db: None, alice: Any) -> tuple[TestPlan, list[Run]]:
    plan = make_8s_plan(alice)
    return plan, history(plan, 3)


@pytest.mark.browser
def test_clicking_a_point_opens_its_run(
    live_server: Any, plan_with_history: tuple[TestPlan, list[Run]], browser_page: Any
) -> None:
    plan, runs = plan_with_history
    page = browser_page
    base = live_server.url
    log_in(page, base)
    page.goto(f"{base}/plans/{plan.pk}/trend/")
    page.wait_for_function("() => document.getElementById('chart-trend-latency').data !== undefined")
    assert page.locator("#chart-trend-latency .scatterlayer .point").count() == 3 * len(runs)
    page.locator("#chart-trend-latency .scatterlayer .trace").nth(1).locator(".point").nth(2).click(
        force=True
    )
    page.wait_for_url(f"{base}/runs/{runs[2].pk}/")
    page.go_back()
    page.check(f"input[name=ids][value='{runs[0].pk}']")
    page.check(f"input[name=ids][value='{runs[2].pk}']")
    page.click("[data-compare-submit]")
    page.wait_for_url(f"{base}/runs/compare/?ids={runs[2].pk},{runs[0].pk}")  # table order: newest first


@pytest.mark.django_db
def test_the_charts_show_every_run_and_the_table_the_latest(
    alice: Any, alice_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runs.views import plans

    monkeypatch.setattr(plans, "TREND_TABLE_ROWS", 2)
    plan = make_8s_plan(alice)
    runs = history(plan, 3)
    response = alice_client.get(reverse("runs-plan-trend", args=[plan.pk]))
    table = response.content.decode().split('id="trend-runs"')[1].split("</table>")[0]
    assert [int(r.split('"')[0]) for r in table.split('data-run="')[1:]] == [runs[2].pk, runs[1].pk]
    assert json_script(response, "trend-throughput")["data"][0]["customdata"] == [r.pk for r in runs]


@pytest.mark.django_db
def test_a_run_that_ends_is_marked_against_the_baseline_without_a_comparison(
    alice: Any, alice_client: Client
) -> None:
    from runs.services.runs import run_finish

    plan = make_8s_plan(alice)
    history(plan, 1)  # the baseline
    slow = eight_second_run(plan, seed=7, latency_factor=1.3)
    Run.objects.filter(pk=slow.pk).update(status=Run.Status.RUNNING, finished_at=None)
    run_finish(run_id=slow.pk, status=Run.Status.FINISHED)
    body = alice_client.get(reverse("runs-plan-trend", args=[plan.pk])).content.decode()
    row = body.split(f'data-run="{slow.pk}"')[1].split("</tr>")[0]
    assert "not compared yet" not in row
    # The verdict a comparison with the baseline gives (8-second steps leave few blocks, so
    # it may well be "no significant change": the trend must show the same).
    from runs.selectors import analysis as selectors_analysis

    assert plan.baseline_run_id is not None
    expected = selectors_analysis.runs_compare(runs=Run.objects.all(), ids=[plan.baseline_run_id, slow.pk])
    assert f">{expected.overall[slow.pk].verdict}</span>" in row
