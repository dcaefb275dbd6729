"""Two capacity searches of one plan on the compare page, the run page's baseline verdict and
the plan's trend: each shows the capacity its search stored, and the candidate's is judged
against the reference's by their brackets."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from runs.models import Run, TestPlan
from runs.services import catalog
from runs.services.analysis import run_analyse
from tests.api.conftest import api_for
from tests.pages.test_analysis_pages import make_staircase_plan, seed_run

LEVELS = (2, 4, 8, 16, 12, 10)
STEP = 5


def search_plan(alice: Any) -> TestPlan:
    plan = make_staircase_plan(alice)
    catalog.profile_save(
        team=plan.team,
        name="Find it",
        kind="search_users",
        params={"objective": "p95 < 500 ms", "start_users": 2, "ceiling_users": 32, "budget": 60},
        profile=plan.profile,
    )
    plan.refresh_from_db()
    return plan


def searched(plan: TestPlan, verdicts: dict[int, bool], seed: int) -> Run:
    """A seeded run whose stored search judged each level's seconds (after 1 s to settle)."""
    run = seed_run(plan, levels=LEVELS, step_seconds=STEP, seed=seed)
    run.snapshot = {**run.snapshot, "profile": {"kind": plan.profile.kind, "params": plan.profile.params}}
    decisions = []
    for i, users in enumerate(LEVELS):
        start, end = i * STEP + 1, (i + 1) * STEP - 1
        seconds = run.seconds.filter(t__gte=start, t__lte=end)
        requests = sum(seconds.values_list("requests", flat=True))
        decisions.append(
            {
                "index": i,
                "load": float(users),
                "start_t": start,
                "end_t": end,
                "requests": requests,
                "failures": 0,
                "rps": requests / (end - start + 1),
                "goodput": requests / (end - start + 1),
                "error_rate": 0.0,
                "p50_ms": 10.0,
                "p95_ms": 20.0,
                "p99_ms": 30.0,
                "dropped": 0,
                "checks": [],
                "passed": verdicts[users],
                "decided_by": "interval",
                "reason": "met" if verdicts[users] else "p95 < 500 ms broken: 612.0 ms",
                "phase": "grow" if i < 4 else "bisect",
                "next_load": float(LEVELS[i + 1]) if i + 1 < len(LEVELS) else None,
            }
        )
    run.capacity_search = {
        "decisions": decisions,
        "outcome": {"status": "found", "low": None, "high": None, "message": ""},
    }
    run.save(update_fields=["snapshot", "capacity_search"])
    return run


@pytest.mark.django_db
def test_two_searches_compare_by_capacity_and_the_trend_lists_each(alice: Any, alice_client: Client) -> None:
    plan = search_plan(alice)
    # Reference: 12 passes, 16 fails. Candidate: 10 passes, 12 fails (broke where the reference held).
    reference = searched(plan, {2: True, 4: True, 8: True, 16: False, 12: True, 10: True}, seed=1)
    candidate = searched(plan, {2: True, 4: True, 8: True, 16: False, 12: False, 10: True}, seed=2)
    plan.baseline_run = reference
    plan.save(update_fields=["baseline_run"])

    analysis = run_analyse(run_id=candidate.pk).data
    assert [s["users"] for s in analysis["steps"]] == list(LEVELS)  # the decided steps, in order

    body = alice_client.get(
        reverse("runs-compare"), {"ids": f"{reference.pk},{candidate.pk}"}
    ).content.decode()
    line = body.split('class="search-change-line"')[1].split("</p>")[0]
    assert "search capacity lower" in line
    assert (
        "Capacity 10 users against 12 users (-17%); "
        "lower: the candidate broke at a load the reference still met" in line
    )

    page = alice_client.get(reverse("runs-detail", args=[candidate.pk])).content.decode()
    assert 'id="baseline-search-change"' in page and "search capacity lower" in page
    answer = page.split('id="search-answer">')[1].split("</p>")[0]
    assert answer.startswith("<strong>Capacity: 10 users / ")
    assert "12 users broke it (p95 &lt; 500 ms broken: 612.0 ms)" in answer

    trend = alice_client.get(reverse("runs-plan-trend", args=[plan.pk])).content.decode()
    rows = trend.split('id="trend-runs"')[1]
    assert rows.split(f'data-run="{reference.pk}"')[1].split("</tr>")[0].count(">12 users<") == 1
    assert rows.split(f'data-run="{candidate.pk}"')[1].split("</tr>")[0].count(">10 users<") == 1
    # The API's CI view carries the capacity and the baseline's, for the gate of python3 -m runs.ci.
    capacity = api_for(alice).get(f"/runs/{candidate.pk}").json()["ci"]["result"]["capacity"]
    assert {k: capacity[k] for k in ("low", "high", "unit", "baseline_run", "baseline_low")} == {
        "low": 10.0,
        "high": 12.0,
        "unit": "users",
        "baseline_run": reference.pk,
        "baseline_low": 12.0,
    }
    assert capacity["answer"] == answer.removeprefix("<strong>").removesuffix("</strong>").replace(
        "&lt;", "<"
    )


@pytest.mark.django_db
def test_a_running_search_shows_each_decided_step_in_the_live_tables_and_once_on_the_page(
    alice: Any, alice_client: Client
) -> None:
    plan = search_plan(alice)
    run = searched(plan, {2: True, 4: True, 8: True, 16: False, 12: False, 10: True}, seed=7)
    assert run.capacity_search is not None
    decisions = run.capacity_search["decisions"][:3]  # three steps decided so far, no outcome yet
    run.capacity_search = {"decisions": decisions, "outcome": None}
    run.status = Run.Status.RUNNING
    run.save(update_fields=["capacity_search", "status"])

    # What the live page fetches every second (and the share page's copy of it).
    tables = alice_client.get(reverse("runs-tables", args=[run.pk]) + f"?upto={run.last_t}")
    html = tables.content.decode()
    assert tables.status_code == 200 and html.count('id="search-steps"') == 1, html
    assert html.count("<tr data-passed=") == 3
    assert "each step appears here when the load generator has decided it" in html
    for d in decisions:
        assert f'<td class="num">{d["start_t"]}–{d["end_t"]}</td>' in html

    page = alice_client.get(run.get_absolute_url()).content.decode()
    assert page.count('id="capacity-search"') == 1  # inside the refreshed tables only
    assert page.index('id="capacity-search"') > page.index('id="run-tables"')

    # Ended: the full section (with its chart) above the charts, and no longer in the tables.
    run.status = Run.Status.FINISHED
    run.save(update_fields=["status"])
    page = alice_client.get(run.get_absolute_url()).content.decode()
    assert page.count('id="capacity-search"') == 1 and 'id="chart-search"' in page
    assert page.index('id="capacity-search"') < page.index('id="run-tables"')
    assert 'id="search-steps"' not in alice_client.get(reverse("runs-tables", args=[run.pk])).content.decode()
