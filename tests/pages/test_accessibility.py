"""Every main page in headless Chromium at a phone's width (390 px) and a desktop's (1440 px):
no horizontal overflow of the page itself (wide tables scroll inside their cards), and no
serious or critical accessibility violation by axe-core (``axe-playwright-python`` bundles
axe-core and injects it into the page: nothing is fetched).

Screenshots go to ``SCALETEST_SCREENSHOT_DIR`` when it is set (a human look); without it none is
taken: nothing asserts on them, and 40 full-page captures were work for no check. The pages are
filled by the crawler's ``world`` (one of every run kind in Alice's team); Alice is its admin.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.pages.test_analysis_pages import staircase_plan  # noqa: F401  (fixture)
from tests.pages.test_crawl import world  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.first_database_only(
        reason=(
            "layout, contrast and labels of the markup, which no query changes; every page's "
            "rendering on both databases is tests/pages/test_crawl.py"
        )
    ),
]

WIDTHS = (390, 1440)
SERIOUS = ("serious", "critical")


def main_pages(w: dict[str, Any]) -> dict[str, str]:
    runs = w["runs"]
    plan = w["plan"]
    return {
        "dashboard": reverse("runs-dashboard"),
        "runs": reverse("runs-list"),
        "run-staircase": reverse("runs-detail", args=[runs["staircase"].pk]),
        "run-running": reverse("runs-detail", args=[runs["running"].pk]),
        "run-failed": reverse("runs-detail", args=[runs["failed"].pk]),
        "run-distributed": reverse("runs-detail", args=[runs["distributed"].pk]),
        "compare": reverse("runs-compare") + f"?ids={runs['staircase'].pk},{runs['slower'].pk}",
        "plans": reverse("runs-plan-list"),
        "plan": reverse("runs-plan-detail", args=[plan.pk]),
        "plan-form": reverse("runs-plan-edit", args=[plan.pk]),
        "targets": reverse("runs-target-list"),
        "target-form": reverse("runs-target-edit", args=[plan.target_id]),
        "scenarios": reverse("runs-scenario-list"),
        "scenario-form": reverse("runs-scenario-edit", args=[plan.scenario_id]),
        "profiles": reverse("runs-profile-list"),
        "profile-form": reverse("runs-profile-edit", args=[plan.profile_id]),
        "team": reverse("teams-detail", args=[w["team"].pk]),
        "teams": reverse("teams-list"),
        "api-tokens": reverse("api-tokens"),
        "share": reverse("share-page", args=[w["run_token"]]),
    }


@pytest.fixture
def alice_session(transactional_db: None, alice: Any) -> str:
    """Alice's session key, made before the browser starts (the ORM is not for its event loop)."""
    client = Client()
    client.force_login(alice)
    return str(client.cookies[settings.SESSION_COOKIE_NAME].value)


@pytest.fixture
def carol_session(transactional_db: None, carol: Any) -> str:
    """Carol's team has nothing yet: her dashboard shows the quick test and the four steps."""
    client = Client()
    client.force_login(carol)
    return str(client.cookies[settings.SESSION_COOKIE_NAME].value)


def screenshot_dir() -> Path | None:
    """Where screenshots go for a human look (``SCALETEST_SCREENSHOT_DIR``), or None: none taken."""
    folder = os.environ.get("SCALETEST_SCREENSHOT_DIR")
    if not folder:
        return None
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder)


def logged_in(page: Any, base: str, session: str) -> None:
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base}])


def open_page(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("load")
    # Charts drawn (where there are any), so what is measured is what a person sees.
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-figure]')].every(el => el.querySelector('.main-svg'))"
    )


def test_main_pages_fit_the_screen_and_have_no_serious_accessibility_violations(
    transactional_db: None,
    live_server: Any,
    world: dict[str, Any],  # noqa: F811
    alice_session: str,
    browser_page: Any,
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    page = browser_page
    base = live_server.url
    shots = screenshot_dir()
    logged_in(page, base, alice_session)
    axe = Axe()
    overflow: list[str] = []
    violations: list[str] = []
    pages = main_pages(world)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for name, path in pages.items():
            open_page(page, base + path)
            if shots is not None:
                page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
            scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            if scroll > inner:
                wide = page.evaluate(
                    """() => [...document.querySelectorAll('body *')]
                        .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
                        .filter(el => !el.closest('.table-scroll'))
                        .slice(0, 3)
                        .map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : ''))"""
                )
                overflow.append(f"{name} at {width} px: {scroll} px wide ({', '.join(wide)})")
            result = axe.run(page)
            for v in result.response["violations"]:
                if v["impact"] in SERIOUS:
                    targets = [" ".join(map(str, node["target"])) for node in v["nodes"][:3]]
                    violations.append(
                        f"{name} at {width} px: {v['id']} ({v['impact']}): {v['help']} — {targets}"
                    )
    assert not overflow, "\n".join(overflow)
    assert not violations, "\n".join(violations)


def test_an_empty_dashboard_fits_the_screen_and_has_no_serious_accessibility_violations(
    transactional_db: None, live_server: Any, carol_session: str, browser_page: Any
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    page = browser_page
    shots = screenshot_dir()
    logged_in(page, live_server.url, carol_session)
    problems = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        open_page(page, live_server.url + reverse("runs-dashboard"))
        assert page.locator("#quick-test-form").is_visible() and page.locator("#setup-steps").is_visible()
        if shots is not None:
            page.screenshot(path=str(shots / f"dashboard-empty-{width}.png"), full_page=True)
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if scroll > inner:
            problems.append(f"{width} px: {scroll} px wide")
        # The form's errors too: an impossible staircase, sent without the browser's own checks.
        page.fill("#id_url", "http://127.0.0.1:9/")
        page.check("#id_shape_2")
        page.fill("#id_users", "2")
        page.click("#quick-test-start")
        page.wait_for_selector(".errorlist")
        for v in Axe().run(page).response["violations"]:
            if v["impact"] in SERIOUS:
                problems.append(f"{width} px: {v['id']} ({v['impact']}): {v['help']}")
    assert not problems, "\n".join(problems)


def test_the_menu_folds_behind_a_button_on_a_phone(
    transactional_db: None, live_server: Any, alice_session: str, browser_page: Any
) -> None:
    page = browser_page
    logged_in(page, live_server.url, alice_session)
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(live_server.url + reverse("runs-dashboard"))
    toggle = page.locator(".nav-toggle")
    assert toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false"
    assert not page.locator("nav.nav").is_visible()
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert page.locator("nav.nav >> text=API docs").is_visible()
    page.set_viewport_size({"width": 1440, "height": 800})
    assert not toggle.is_visible() and page.locator("nav.nav >> text=API docs").is_visible()
