"""What a person sees of capacity: an 8-second staircase analysed from its plan, the headline
sentence and knee on the run page, both runs' curves and plain-words verdicts on the compare
page, and the profile form's advice about steps too short to trust.

The seeded target serves 20 req/s per user up to 160 req/s with no think time (see
test_analysis_pages): the operational laws put the knee at 160 × 50 ms = 8 users.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from runs.models import TestPlan
from runs.services import catalog
from tests.pages.test_analysis_pages import make_staircase_plan, seed_run

LEVELS_8S = tuple(range(2, 21, 2))
# 160 req/s within the seeded noise; the knee within 15 % of 8 users.
HEADLINE = re.compile(
    r"Tops out at 1(5[4-9]|6[0-6]) req/s; beyond ~[789] users extra users only add latency\."
)
INTERNAL_CODES = ("no_steps", "low_confidence", "step_not_analysed", "insufficient data", "blocks of")


def make_8s_plan(alice: Any) -> TestPlan:
    """Alice's staircase of 10 steps × 8 s (2 → 20 users), the issue's common choice."""
    plan = make_staircase_plan(alice)
    catalog.profile_save(
        team=plan.team,
        name="Stairs of 8 s",
        kind="staircase",
        params={"start_users": 2, "step_users": 2, "step_duration": 8, "steps": 10, "spawn_rate": None},
        profile=plan.profile,
    )
    plan.refresh_from_db()
    return plan


def eight_second_run(plan: TestPlan, **kwargs: Any) -> Any:
    return seed_run(plan, levels=LEVELS_8S, step_seconds=8, **kwargs)


@pytest.mark.django_db
def test_an_8_second_staircase_gets_steps_a_knee_and_a_headline(alice: Any, alice_client: Client) -> None:
    run = eight_second_run(make_8s_plan(alice))
    body = alice_client.get(reverse("runs-detail", args=[run.pk])).content.decode()
    headline = body.split('id="capacity-headline">')[1].split("</p>")[0]
    assert HEADLINE.search(headline), headline
    assert "Low confidence: every load step is short or incomplete (only 6 s of steady load" in headline
    knee = body.split('id="knee-users">')[1].split("</dd>")[0]
    found = re.search(r"<strong>([\d.]+) users</strong>", knee)
    assert found is not None, knee
    value = float(found.group(1))
    assert value == pytest.approx(8, rel=0.15)
    assert "the step at <strong>8 users</strong>" in body.split('id="knee-step">')[1].split("</dd>")[0]
    table = body.split('id="step-table"')[1].split("<tbody>")[1].split("</tbody>")[0]
    assert table.count("<tr>") == len(LEVELS_8S) and table.count(">low confidence</span>") == len(LEVELS_8S)
    validity = body.split('id="validity"')[1].split("</section>")[0]
    assert (
        "are low confidence: only 6 s of steady load (8 s step less 2 s of start-up and warm-up)" in validity
    )
    assert "Steps of at least 15 s give a trustworthy knee and comparison." in validity
    assert "No load step" not in body and ">no_steps<" not in body


@pytest.mark.django_db
def test_the_plans_baseline_is_the_default_reference(alice: Any, alice_client: Client) -> None:
    plan = make_8s_plan(alice)
    newer, base = eight_second_run(plan, seed=1), eight_second_run(plan, seed=2)
    plan.baseline_run = base
    plan.save(update_fields=["baseline_run"])
    body = alice_client.get(reverse("runs-compare"), {"ids": f"{newer.pk},{base.pk}"}).content.decode()
    table = body.split('id="compare-runs"')[1].split("</table>")[0]
    assert "<strong>reference</strong>" in table.split(f'data-run="{base.pk}"')[1].split("</tr>")[0]
    assert "<strong>reference</strong>" not in table.split(f'data-run="{newer.pk}"')[1].split("</tr>")[0]


@pytest.mark.django_db
def test_an_endpoint_in_both_runs_gets_a_verdict_coloured_by_it(alice: Any, alice_client: Client) -> None:
    plan = make_8s_plan(alice)
    a, slow = eight_second_run(plan, seed=1), eight_second_run(plan, seed=3, latency_factor=1.3)
    body = alice_client.get(reverse("runs-compare"), {"ids": f"{a.pk},{slow.pk}"}).content.decode()
    endpoints = body.split('id="compare-endpoints"')[1].split("</table>")[0]
    assert "not in both runs" not in endpoints
    assert endpoints.count(">slower</span>") == 2
    assert endpoints.count('class="num delta-slower"') == 2  # Δ p95 coloured by the verdict


@pytest.mark.django_db
def test_the_profile_preview_and_save_say_when_steps_are_too_short(alice_client: Client) -> None:
    params = {
        "kind": "staircase",
        "p_staircase_start_users": "2",
        "p_staircase_step_users": "2",
        "p_staircase_step_duration": "8",
        "p_staircase_steps": "10",
    }
    preview = alice_client.get(reverse("runs-profile-preview"), params).json()
    assert preview["step_advice"].startswith("The load steps last 8 s, which leaves about 6 s of steady load")
    assert "Make each step at least 15 s" in preview["step_advice"]
    longer = alice_client.get(reverse("runs-profile-preview"), params | {"p_staircase_step_duration": "20"})
    assert longer.json()["step_advice"] == ""
    saved = alice_client.post(reverse("runs-profile-create"), params | {"name": "Eights"}, follow=True)
    assert "Saved load profile" in saved.content.decode()
    assert 'class="message message-warning">The load steps last 8 s' in saved.content.decode()


# --- in a browser ----------------------------------------------------------------------------------
def log_in(page: Any, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "alice-password-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


@pytest.fixture
def two_8s_runs(transactional_db: None, alice: Any) -> tuple[Any, Any]:
    """Two 8-second staircase runs, the second 20 % slower; made before the browser starts
    (Playwright's sync API runs an event loop, in which the ORM refuses to run)."""
    plan = make_8s_plan(alice)
    return eight_second_run(plan, seed=1), eight_second_run(plan, seed=2, latency_factor=1.2)


@pytest.mark.browser
def test_a_person_sees_the_headline_and_both_runs_capacity_curves(
    live_server: Any, two_8s_runs: tuple[Any, Any], browser_page: Any
) -> None:
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    a, b = two_8s_runs
    base = live_server.url
    log_in(page, base)

    page.goto(f"{base}/runs/{a.pk}/")
    headline = page.locator("#capacity-headline").inner_text()
    assert HEADLINE.search(headline), headline
    visible = page.locator("main").inner_text() if page.locator("main").count() else page.inner_text("body")
    for code in INTERNAL_CODES[:3]:
        assert code not in visible

    page.goto(f"{base}/runs/compare/?ids={a.pk},{b.pk}")
    page.wait_for_function("() => document.getElementById('chart-cmp-capacity').data !== undefined")
    page.wait_for_function("() => document.getElementById('chart-cmp-throughput').data !== undefined")
    capacity = page.evaluate(
        "document.getElementById('chart-cmp-capacity').data.map(t => [t.name, t.x.length, t.y.length])"
    )
    assert [row[1:] for row in capacity] == [[len(LEVELS_8S)] * 2] * 2
    throughput = page.evaluate(
        "document.getElementById('chart-cmp-throughput').data.map(t => [t.name, t.mode, t.x.length])"
    )
    points = [row for row in throughput if row[1] == "markers" and row[2] == len(LEVELS_8S)]
    assert len(points) == 2  # one series of step points per run
    assert sum(1 for row in throughput if row[0].endswith("USL fit")) == 2
    # The chart drew them: an svg point per step and run.
    assert page.locator("#chart-cmp-capacity .scatterlayer .point").count() == 2 * len(LEVELS_8S)
    runs_table = page.locator("#compare-runs").inner_text()
    assert "Slower: p95 response time +" in runs_table
    assert "Capacity unchanged: max throughput" in runs_table
    for code in INTERNAL_CODES:
        assert code not in runs_table
    assert errors == []


@pytest.mark.browser
def test_the_profile_preview_warns_about_short_steps_before_saving(
    transactional_db: None, live_server: Any, alice: Any, browser_page: Any
) -> None:
    page = browser_page
    base = live_server.url
    log_in(page, base)
    page.goto(f"{base}/profiles/new/")
    page.fill("#id_name", "Eights")
    page.select_option("#id_kind", "staircase")
    page.fill("#id_p_staircase_start_users", "2")
    page.fill("#id_p_staircase_step_users", "2")
    page.fill("#id_p_staircase_steps", "10")
    page.fill("#id_p_staircase_step_duration", "8")
    page.wait_for_function("() => !document.getElementById('preview-advice').hidden")
    advice = page.locator("#preview-advice").inner_text()
    assert advice.startswith("The load steps last 8 s") and "at least 15 s" in advice
    page.fill("#id_p_staircase_step_duration", "20")
    page.wait_for_function("() => document.getElementById('preview-advice').hidden")


@pytest.mark.django_db
def test_the_throughput_curves_escape_run_names_and_carry_each_runs_usl_fit(
    alice: Any, alice_client: Client
) -> None:
    from tests.pages.test_pages import json_script

    plan = make_8s_plan(alice)  # its name holds an <img onerror> tag
    a, b = eight_second_run(plan, seed=1), eight_second_run(plan, seed=2)
    response = alice_client.get(reverse("runs-compare"), {"ids": f"{a.pk},{b.pk}"})
    fig = json_script(response, "fig-cmp-throughput")
    assert "<img" not in str(fig)
    points = [t for t in fig["data"] if t["mode"] == "markers" and t.get("showlegend", True)]
    assert [t["x"] for t in points] == [list(LEVELS_8S)] * 2
    assert sum(1 for t in fig["data"] if t["name"].endswith("USL fit")) == 2
    knees = [t for t in fig["data"] if t["name"].endswith(" knee")]
    assert len(knees) == 2 and all(t["x"][0] == pytest.approx(8, rel=0.15) for t in knees)
