"""The Content Security Policy holds on every page, and no page needs more than it allows.

Every URL pattern is opened (the crawler of test_crawl.py: each persona, share links, every kind
of run, the API docs, the Django admin's pages as an operator) first with Django's test client,
which checks that each HTML response carries the policy with its required directives, then in
headless Chromium, which must report no ``securitypolicyviolation`` event, no console message
about the policy and no script error. A control page shows the detector catches a violation.
"""

from __future__ import annotations

from html import unescape
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from runs.models import TestPlan
from runs.services.shares import share_create_compare, share_create_run
from tests.conftest import CHROMIUM_ARGS
from tests.pages.conftest import make_run
from tests.pages.test_analysis_pages import staircase_plan  # noqa: F401  (fixture)
from tests.pages.test_crawl import concrete_urls, url_patterns, world  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.first_database_only(
        reason=(
            "the browser's view of the response headers and markup, which no query changes; every "
            "page's rendering on both databases is tests/pages/test_crawl.py"
        )
    ),
]

REQUIRED = {
    "script-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "connect-src": "'self'",
}

WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') +
                    ' at ' + (e.sourceFile || '') + ':' + e.lineNumber + ' ' + (e.sample || ''));
});
"""


def policy(header: str) -> dict[str, str]:
    directives = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            directives[name] = value.strip()
    return directives


def html_urls(client: Client, urls: list[str], who: str, problems: list[str]) -> list[str]:
    """The ``urls`` that answer HTML to ``client``; each must carry the policy.

    A page whose bytes and policy are those of one already kept (Django's bare 404 page, which
    another team's member gets for most of Alice's URLs) is checked here but not opened again in
    the browser: Chromium would load the very same document under the very same policy."""
    pages = []
    seen: set[tuple[str, bytes]] = set()
    for url in urls:
        response = client.get(url)
        if "attachment" in response.get("Content-Disposition", ""):
            continue  # the offline report: its own policy, tests/exports/test_report_browser.py
        if "text/html" not in response.get("Content-Type", "") or not response.content:
            continue  # JSON, CSV, downloads; empty answers (405) Chromium shows as its own error page
        header = response.get("Content-Security-Policy")
        if not header:
            problems.append(f"{who} {url}: no Content-Security-Policy header")
            continue
        directives = policy(header)
        for name, value in REQUIRED.items():
            if directives.get(name) != value:
                problems.append(f"{who} {url}: {name} is {directives.get(name)!r}, not {value}")
        if "unsafe-inline" in directives.get("script-src", "") or "unsafe-eval" in header:
            problems.append(f"{who} {url}: scripts may run inline code: {header}")
        if (header, response.content) in seen:
            continue
        seen.add((header, response.content))
        pages.append(url)
    return pages


def session_cookie(client: Client, base: str) -> list[dict[str, Any]]:
    host = urlsplit(base).hostname
    return [{"name": c.key, "value": c.value, "domain": host, "path": "/"} for c in client.cookies.values()]


@pytest.fixture
def visits(world: dict[str, Any], alice: Any, carol: Any, live_server: Any) -> dict[str, Any]:  # noqa: F811
    """What each persona opens in the browser, worked out before it starts (Playwright's event
    loop forbids ORM calls), with the header checks' findings."""
    problems: list[str] = []
    alice_client, carol_client, anonymous, operator_client = Client(), Client(), Client(), Client()
    alice_client.force_login(alice)
    carol_client.force_login(carol)
    operator = get_user_model().objects.create_superuser(username="olga", email="", password="olga-pw-123")
    operator_client.force_login(operator)
    every: list[str] = []
    first_of_each: list[str] = []
    for route, pattern in url_patterns():
        urls = concrete_urls(pattern.name or route, route, world)
        assert urls is not None, f"the crawler does not know {pattern.name} ({route})"
        every.extend(urls)
        first_of_each.extend(urls[:1])
    every.append("/api/v1/docs")
    admin_urls = [reverse("admin:index")]
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        admin_urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            admin_urls.append(reverse("admin:{}_{}_change".format(*info), args=[first.pk]))
    admin_urls.append(reverse("admin:runs_team_add"))
    share_urls = [
        reverse(name, args=[token])
        for token in (world["run_token"], world["compare_token"])
        for name in ("share-page", "share-tables")
    ]
    base = live_server.url
    return {
        "base": base,
        "problems": problems,
        "personas": {
            "alice (team admin)": (
                session_cookie(alice_client, base),
                html_urls(alice_client, every, "alice", problems),
            ),
            "carol (another team)": (
                session_cookie(carol_client, base),
                html_urls(carol_client, first_of_each, "carol", problems),
            ),
            "logged out": (
                [],
                html_urls(anonymous, [*first_of_each, *share_urls, reverse("login")], "anonymous", problems),
            ),
            "olga (operator, admin site)": (
                session_cookie(operator_client, base),
                html_urls(operator_client, admin_urls, "olga", problems),
            ),
        },
    }


CHARTS = """() => {
  const style = document.getElementById('plotly.js-style-global');
  return {plots: document.querySelectorAll('.js-plotly-plot .main-svg').length,
          rules: style && style.sheet ? style.sheet.cssRules.length : 0};
}"""


def visit(
    browser: Any, base: str, who: str, cookies: list[dict[str, Any]], urls: list[str]
) -> tuple[list[str], int, int]:
    """Open ``urls`` as ``who``: (problems, pages opened, pages with charts)."""
    problems: list[str] = []
    opened = charts = 0
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_cookies(cookies)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.add_init_script(WATCH)
    console: list[str] = []

    def on_console(message: Any) -> None:
        if message.type == "error" and (
            "Content Security Policy" in message.text or "Refused to" in message.text
        ):
            console.append(message.text)

    def on_error(error: Any) -> None:
        console.append(f"script error: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_error)
    for url in urls:
        page.goto(base + url, wait_until="load")
        try:
            page.wait_for_load_state("networkidle", timeout=5_000)
        except Exception:  # noqa: BLE001 - a live run page polls every second
            page.wait_for_timeout(1_000)
        opened += 1
        drawn = page.evaluate(CHARTS)
        if drawn["plots"]:
            charts += 1
            if not drawn["rules"]:  # Plotly's CSSOM rules must go in under the policy
                problems.append(f"{who} {url}: charts drawn without Plotly's style rules")
        for item in [*page.evaluate("() => window.__csp"), *console]:
            problems.append(f"{who} {url}: {item}")
        console.clear()
    context.close()
    return problems, opened, charts


def open_all(visits: dict[str, Any]) -> tuple[list[str], int, int]:
    from playwright.sync_api import sync_playwright

    from runs.management.services_check import chromium_path

    executable = chromium_path()
    if executable is None:
        pytest.fail("Chromium is not installed: run `python3 manage.py test`, which installs it.")
    problems: list[str] = []
    opened = charts = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            # The detector works: an inline script under the policy is reported and does not run.
            context = browser.new_context()
            page = context.new_page()
            page.add_init_script(WATCH)
            page.goto(visits["base"] + reverse("login"))
            page.evaluate(
                "() => { const s = document.createElement('script'); "
                "s.textContent = 'window.__ran = 1'; document.body.appendChild(s); }"
            )
            page.wait_for_timeout(200)
            assert page.evaluate("() => window.__ran") is None
            assert page.evaluate("() => window.__csp.length") >= 1, "the violation detector saw nothing"
            context.close()

            for who, (cookies, urls) in visits["personas"].items():
                found, seen, drawn = visit(browser, visits["base"], who, cookies, urls)
                problems.extend(found)
                opened += seen
                charts += drawn
        finally:
            browser.close()
    return problems, opened, charts


def test_every_page_loads_in_chromium_without_a_csp_violation(
    visits: dict[str, Any],
    staircase_plan: TestPlan,  # noqa: F811
) -> None:
    assert not visits["problems"], "\n".join(visits["problems"])
    problems, opened, charts = open_all(visits)
    assert not problems, "\n".join(problems)
    assert opened > 80
    assert charts >= 10  # run, compare, plan, profile and share pages drew their Plotly charts


@pytest.mark.django_db
def test_the_offline_report_keeps_its_own_policy(alice_client: Client, finished_run: Any) -> None:
    """The report inlines Plotly and its chart code, allowed by hash in its <meta> policy; the
    site's header (script-src 'self') would block them if a browser showed the download."""
    response = alice_client.get(reverse("runs-report", args=[finished_run.pk]))
    assert response.status_code == 200
    assert "Content-Security-Policy" not in response
    html = unescape(response.content.decode())
    assert 'http-equiv="Content-Security-Policy"' in html
    assert "script-src 'sha256-" in html
    # A share link's report likewise; a comparison link has none: its 404 page keeps the header.
    share = share_create_run(run=finished_run, user=finished_run.plan.team.memberships.first().user)[1]
    compare = share_create_compare(
        team=finished_run.team, runs=[finished_run, make_run(finished_run.plan)], baseline_id=None, user=None
    )[1]
    anonymous = Client()
    assert "Content-Security-Policy" not in anonymous.get(reverse("share-report", args=[share]))
    missing = anonymous.get(reverse("share-report", args=[compare]))
    assert missing.status_code == 404 and "Content-Security-Policy" in missing
    # Everything else still carries the header.
    assert "Content-Security-Policy" in alice_client.get(reverse("runs-detail", args=[finished_run.pk]))
