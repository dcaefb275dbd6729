"""Thresholds on the plan form and page and on the run page (verdict table, pass/fail badge,
limit lines on the charts), with hostile endpoint names escaped."""

from __future__ import annotations

import json
import re
from typing import Any

from django.test import Client
from django.urls import reverse

from runs.core.thresholds import Observed, evaluate, parse_thresholds
from runs.models import Run, TestPlan
from runs.services import catalog
from runs.services.runs import plan_snapshot

from .conftest import HOSTILE, make_run


def _form_data(plan: TestPlan, thresholds: str) -> dict[str, Any]:
    return {
        "name": plan.name,
        "target": plan.target_id,
        "scenario": plan.scenario_id,
        "profile": plan.profile_id,
        "notes": "",
        "thresholds": thresholds,
    }


def test_the_plan_form_saves_thresholds_and_shows_them_back_as_text(
    alice_client: Client, seeded_plan: TestPlan
) -> None:
    url = reverse("runs-plan-edit", args=[seeded_plan.pk])
    form = alice_client.get(url).content.decode()
    assert 'name="thresholds"' in form and "error_rate (%)" in form  # the syntax help

    text = "p95 < 500\nerror_rate < 1%\nGET home: p99 < 800 abort 10s\nPOST /cart: rps >= 2"
    response = alice_client.post(url, _form_data(seeded_plan, text))

    assert response.status_code == 302
    seeded_plan.refresh_from_db()
    assert seeded_plan.thresholds == [t.to_dict() for t in parse_thresholds(text)]
    assert "GET home: p99 &lt; 800 abort 10s" in alice_client.get(url).content.decode()
    detail = alice_client.get(reverse("runs-plan-detail", args=[seeded_plan.pk])).content.decode()
    assert "GET home: p99 &lt; 800 ms abort 10s" in detail and "POST /cart: rps &gt;= 2 req/s" in detail
    assert plan_snapshot(plan=seeded_plan)["thresholds"] == seeded_plan.thresholds


def test_bad_thresholds_are_refused_with_a_clear_message_and_nothing_changes(
    alice_client: Client, seeded_plan: TestPlan
) -> None:
    catalog.plan_update(
        plan=seeded_plan,
        data={
            "thresholds": [
                {
                    "metric": "p95",
                    "op": "<",
                    "value": 1.0,
                    "method": None,
                    "name": None,
                    "abort_after_seconds": None,
                }
            ]
        },
    )
    url = reverse("runs-plan-edit", args=[seeded_plan.pk])
    before = list(seeded_plan.thresholds)

    response = alice_client.post(url, _form_data(seeded_plan, "p95 < 500\nrps < 10"))
    assert response.status_code == 200
    assert (
        "Line 2 (“rps &lt; 10”): throughput is a lower bound: write rps &gt;= N" in response.content.decode()
    )

    response = alice_client.post(url, _form_data(seeded_plan, "GET /nope: p95 < 5"))
    page = response.content.decode()
    assert response.status_code == 200
    assert (
        "No step of the scenario “Browse” is named “GET /nope”; its endpoints are: GET home, POST /cart."
        in page
    )

    seeded_plan.refresh_from_db()
    assert seeded_plan.thresholds == before


def test_the_run_page_shows_each_verdict_with_observed_value_limit_and_a_failed_badge(
    alice_client: Client, seeded_plan: TestPlan
) -> None:
    seeded_plan.scenario.steps.filter(method="POST").update(name=HOSTILE)
    items = parse_thresholds(f"p95 < 500\np99 < 30\nPOST {HOSTILE}: error_rate < 1%\nGET home: p90 < 5")
    catalog.plan_update(plan=seeded_plan, data={"thresholds": [t.to_dict() for t in items]})
    results = evaluate(
        items,
        overall=Observed(requests=60, failures=3, seconds=3, percentiles={"p95": 22.5, "p99": 40.0}),
        endpoints={("POST", HOSTILE): Observed(requests=20, failures=3, seconds=3)},
    )
    run = make_run(
        seeded_plan,
        total_requests=60,
        total_failures=3,
        last_t=2,
        p95_ms=22.5,
        threshold_results=results,
        passed=False,
    )

    page = alice_client.get(reverse("runs-detail", args=[run.pk])).content.decode()

    assert HOSTILE not in page
    assert "Thresholds failed" in page and 'data-passed="false"' in page
    table = page[page.index('id="thresholds"') :]
    rows = re.findall(
        r'<tr data-verdict="(\w+)">\s*<td class="mono">(.*?)</td>\s*<td class="num">(.*?)</td>'
        r'\s*<td class="num">(.*?)</td>',
        table,
    )
    assert rows == [
        ("passed", "p95 &lt; 500 ms", "22.5 ms", "&lt; 500 ms"),
        ("failed", "p99 &lt; 30 ms", "40 ms", "&lt; 30 ms"),
        ("failed", "POST &lt;img src=x onerror=alert(1)&gt;: error_rate &lt; 1%", "15%", "&lt; 1%"),
        ("not_evaluable", "GET home: p90 &lt; 5 ms", "–", "&lt; 5 ms"),
    ]
    # The whole-run limits are drawn on the charts; the endpoint ones are not.
    figs = json.loads(re.search(r'id="fig-latency" type="application/json">(.*?)</script>', page).group(1))  # type: ignore[union-attr]
    assert [a["text"] for a in figs["layout"]["annotations"]] == ["p95 &lt; 500", "p99 &lt; 30"]
    assert [s["y0"] for s in figs["layout"]["shapes"]] == [500, 30]


def test_a_passing_run_gets_a_passed_badge_and_a_run_without_thresholds_none(
    alice_client: Client, seeded_plan: TestPlan
) -> None:
    passing = make_run(
        seeded_plan,
        passed=True,
        threshold_results=evaluate(
            parse_thresholds("rps >= 1"), overall=Observed(requests=60, failures=0, seconds=3), endpoints={}
        ),
    )
    page = alice_client.get(reverse("runs-detail", args=[passing.pk])).content.decode()
    assert "Thresholds passed" in page and 'data-passed="true"' in page
    plain = make_run(seeded_plan)
    page = alice_client.get(reverse("runs-detail", args=[plain.pk])).content.decode()
    assert "data-passed" not in page and 'id="thresholds"' not in page


def test_an_aborted_run_says_why(alice_client: Client, seeded_plan: TestPlan) -> None:
    items = parse_thresholds("p95 < 1 abort 2s")
    catalog.plan_update(plan=seeded_plan, data={"thresholds": [t.to_dict() for t in items]})
    message = "Aborted: p95 < 1 ms crossed for 2 s (t = 0–1 s; last second 21 ms)."
    run = make_run(
        seeded_plan,
        passed=False,
        error_message=message,
        threshold_abort={"index": 0, "from_t": 0, "to_t": 1, "observed": 21.0, "message": message},
        threshold_results=evaluate(
            items, overall=Observed(60, 0, 3, {"p95": 20.0}), endpoints={}, aborted_index=0
        ),
    )
    page = alice_client.get(reverse("runs-detail", args=[run.pk])).content.decode()
    assert f'id="threshold-abort">{message.replace("<", "&lt;")}' in page
    assert "aborted the run: crossed for 2 s in a row" in page
    assert Run.objects.get(pk=run.pk).status == Run.Status.FINISHED


def test_the_run_lists_show_the_pass_fail_badge(alice_client: Client, seeded_plan: TestPlan) -> None:
    make_run(seeded_plan, passed=False)
    make_run(seeded_plan, passed=True)
    make_run(seeded_plan)
    page = alice_client.get(reverse("runs-list")).content.decode()
    assert page.count('data-passed="false"') == 1 and page.count('data-passed="true"') == 1
    page = alice_client.get(reverse("runs-plan-detail", args=[seeded_plan.pk])).content.decode()
    assert page.count('data-passed="false"') == 1 and page.count('data-passed="true"') == 1
