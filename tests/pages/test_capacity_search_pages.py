"""What a person sees of a capacity search: the profile form's fields and preview, and on the
run page of a real search the answer sentence, the search path over the load chart and the table
of steps with pass/fail and why."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from runs.core.demo_target import start_demo_target
from runs.models import Run
from tests.engine.test_capacity_search_truth import run_search_plan

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def search_run(transactional_db: None, make_plan: Any) -> Run:
    """A real search, run before the browser starts (the ORM refuses to run beside its loop)."""
    return real_search(make_plan)


def real_search(make_plan: Any, **params: Any) -> Run:
    # 2 slots × 20 ms: N users wait N·10 ms, so p95 < 50 ms holds up to 4 users.
    target = start_demo_target(slots=2, slot_ms=20.0)
    try:
        run = run_search_plan(
            make_plan,
            target.url,
            "/slots",
            "search_users",
            {
                "objective": "p95 < 50 ms",
                "start_users": 2,
                "ceiling_users": 16,
                # Steps judged on their point estimates after 6 s at most: a level whose p95 sits
                # near the SLO on a busy machine cannot use up the budget before one fails.
                "budget": 40,
                "min_step": 2,
                "max_step": 6,
            }
            | params,
        )
    finally:
        target.stop()
    run.refresh_from_db()
    return run


def test_a_search_run_page_answers_with_the_capacity_and_shows_each_step(
    search_run: Run, live_server: Any, alice: Any, browser_page: Any
) -> None:
    run = search_run
    stored = run.capacity_search
    assert stored is not None and stored["outcome"] is not None
    steps = stored["decisions"]
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

    page.goto(f"{base}{reverse('runs-detail', args=[run.pk])}")
    answer = page.locator("#search-answer").inner_text()
    low = max(s["load"] for s in steps if s["passed"])
    assert answer.startswith(f"Capacity: {low:.0f} users / "), answer
    assert "(SLO p95 < 50 ms)" in answer and "broke it (p95 < 50 ms broken: " in answer
    assert re.search(r"The capacity lies between \d+ and \d+ users \(bracket \d+%\)\.", answer), answer
    rows = page.locator("#search-steps tbody tr")
    assert rows.count() == len(steps)
    first = rows.nth(0).inner_text()
    assert "passed" in first and "met p95 < 50 ms" in first
    failed = page.locator('#search-steps tbody tr[data-passed="false"]')
    assert failed.count() >= 1 and "broken" in failed.nth(0).inner_text()
    page.wait_for_function("() => document.getElementById('chart-search').data !== undefined")
    names = page.evaluate("document.getElementById('chart-search').data.map(t => t.name)")
    assert names == ["users (measured)", "step passed", "step failed", "search path"]
    path_y = page.evaluate("document.getElementById('chart-search').data[3].y")
    assert path_y == [s["load"] for s in steps]
    assert errors == [], errors


def test_the_profile_form_offers_find_capacity_and_previews_its_envelope(
    transactional_db: None, live_server: Any, alice: Any, browser_page: Any
) -> None:
    page = browser_page
    base = live_server.url
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "alice-password-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/profiles/new/")
    page.fill("#id_name", "Find it")
    page.select_option("#id_kind", "search_users")
    page.fill("#id_p_search_users_objective", "p95 < 300 ms\nerror_rate < 1%")
    page.fill("#id_p_search_users_start_users", "5")
    page.fill("#id_p_search_users_ceiling_users", "100")
    page.fill("#id_p_search_users_budget", "300")
    page.wait_for_function(
        "() => document.getElementById('preview-summary').textContent.includes('300 s, peak 100 users')"
    )
    assert "A capacity search" in page.locator("#preview-advice").inner_text()
    page.click("text=Save profile")
    page.wait_for_url(re.compile(rf"{re.escape(base)}/profiles/\d+/$"))
    assert page.locator("#id_p_search_users_objective").input_value() == "p95 < 300 ms\nerror_rate < 1%"
    # A bad objective is refused by name, nothing saved.
    page.fill("#id_p_search_users_objective", "p95 < fast")
    page.click("text=Save profile")
    assert "not a threshold" in page.content()
    assert errors == [], errors
