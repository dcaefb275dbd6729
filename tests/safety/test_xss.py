"""XSS: hostile text in every user-named thing, rendered on every page in headless Chromium.

Each payload, if it ever ran, would set ``window.__xss`` and open an alert. The test visits
every list, form and detail page (the run page with its Plotly charts, hovered too, and the
compare page), and asserts that nothing ran, no dialog opened, and no ``javascript:`` link
exists anywhere in the DOM (Plotly renders ``<a href>`` from text; a click would run it).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Dialog

from runs.core.histogram import Histogram
from runs.models import EndpointSecond, EndpointSummary, ErrorGroup, Run, RunSecond, ScenarioStep, TestPlan
from runs.services import catalog
from runs.services.runs import plan_snapshot

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.first_database_only(
        reason=(
            "escaping is the templates' and the figures' (both databases hand back the same strings);"
            " a stored hostile endpoint name is escaped on both by tests/pages/test_analysis_pages.py"
        )
    ),
]

RUN = "window.__xss=1;alert(1)"
PAYLOADS = [
    f'<img src=x onerror="{RUN}">',
    f"<script>{RUN}</script>",
    f"</script><script>{RUN}</script>",
    f'"><svg onload="{RUN}">',
    "'-alert(window.__xss=1)-'",
    f'<a href="javascript:{RUN}">click</a>',
    f"javascript:{RUN}",
    f"$\\href{{javascript:{RUN}}}{{x}}$",
    f'<b onmouseover="{RUN}">hover</b>',
    '<iframe srcdoc="<script>parent.__xss=1</script>">',
    f"<a href='javascript&colon;{RUN}'>x</a><br><i>{{{{7*7}}}}</i>",
    f'<span style="x:expression(alert(1))" onclick="{RUN}">s</span>',
]


def hostile(i: int, what: str) -> str:
    return f"{what} {PAYLOADS[i % len(PAYLOADS)]}"[:200]


def seed(alice: Any) -> tuple[TestPlan, list[Run]]:
    team = alice.memberships.get().team
    team.name = hostile(6, "Team")
    team.save()
    target = catalog.target_create(
        team=alice.memberships.get().team,
        data={"name": hostile(0, "T"), "base_url": "http://127.0.0.1:9"},
        user=alice,
    )
    steps: list[Mapping[str, Any]] = [
        {"name": hostile(i, "step"), "method": "GET", "path": f"/p{i}", "expected_statuses": "200-299"}
        for i in range(len(PAYLOADS))
    ]
    scenario = catalog.scenario_save(
        team=alice.memberships.get().team,
        data={
            "name": hostile(1, "S"),
            "description": hostile(2, "d"),
            "think_time_min": 0.0,
            "think_time_max": 0.0,
        },
        steps=steps,
        user=alice,
    )
    profile = catalog.profile_save(
        team=alice.memberships.get().team,
        name=hostile(3, "P"),
        kind="constant",
        params={"users": 3, "duration": 4},
    )
    plan = catalog.plan_create(
        team=alice.memberships.get().team,
        data={
            "name": hostile(4, "Plan"),
            "target": target,
            "scenario": scenario,
            "profile": profile,
            "notes": "\n".join(PAYLOADS),
        },
        user=alice,
    )
    runs = []
    now = timezone.now()
    for n, status in enumerate((Run.Status.FINISHED, Run.Status.FAILED)):
        run = Run.objects.create(
            team=plan.team,
            plan=plan,
            plan_name=hostile(5 + n, "Run of"),
            snapshot=plan_snapshot(plan=plan),
            status=status,
            planned_seconds=4,
            started_at=now - timedelta(seconds=10),
            finished_at=now,
            last_t=3,
            total_requests=120,
            total_failures=12,
            p50_ms=10,
            p95_ms=20,
            p99_ms=30,
            max_ms=40,
            error_message="\n".join(PAYLOADS) if status == Run.Status.FAILED else "",
            locust_version=hostile(7, "v")[:50],
            generator_host=hostile(8, "h")[:255],
        )
        h = Histogram()
        for ms in (5.0, 10.0, 20.0):
            h.record_ms(ms)
        for t in range(4):
            RunSecond.objects.create(
                run=run,
                t=t,
                users=3,
                requests=30,
                failures=3,
                p50_ms=10,
                p95_ms=20,
                p99_ms=30,
                max_ms=40,
                mean_ms=12,
                histogram=h.to_dict(),
            )
            for i, step in enumerate(ScenarioStep.objects.filter(scenario=scenario)):
                EndpointSecond.objects.create(
                    run=run,
                    t=t,
                    method="GET",
                    name=step.name,
                    requests=3,
                    failures=1,
                    p50_ms=10 + i,
                    p95_ms=20,
                    p99_ms=30,
                    max_ms=40,
                    histogram=h.to_dict(),
                )
        for i, step in enumerate(ScenarioStep.objects.filter(scenario=scenario)):
            EndpointSummary.objects.create(
                run=run,
                method="GET",
                name=step.name,
                requests=12,
                failures=4,
                p50_ms=10 + i,
                p90_ms=18,
                p95_ms=20,
                p99_ms=30,
                max_ms=40,
                mean_ms=12,
                rps=3.0,
                histogram=h.to_dict(),
            )
            ErrorGroup.objects.create(
                run=run,
                method="GET",
                name=step.name,
                error_class=hostile(i + 1, "E")[:200],
                message=PAYLOADS[i][:500],
                count=4,
                first_seen=now,
                last_seen=now,
            )
        runs.append(run)
    return plan, runs


CHECK = """() => {
  const bad = [];
  for (const a of document.querySelectorAll('a, [href], [xlink\\\\:href]')) {
    const raw = a.getAttribute('href') || a.getAttribute('xlink:href') || '';
    const href = raw.replace(/\\s/g, '').toLowerCase();
    const dataUrl = href.startsWith('data:') && href !== 'data:,';
    if (href.startsWith('javascript:') || dataUrl) bad.push(a.outerHTML.slice(0, 200));
  }
  for (const f of document.querySelectorAll('iframe, object, embed')) bad.push(f.outerHTML.slice(0, 200));
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      if (/^on/i.test(attr.name)) bad.push(el.tagName + ' ' + attr.name + '=' + attr.value.slice(0, 80));
    }
  }
  return {ran: window.__xss || null, bad: bad, mathjax: typeof window.MathJax !== 'undefined'};
}"""


@pytest.fixture
def seeded(transactional_db: None, alice: Any) -> tuple[TestPlan, list[Run]]:
    return seed(alice)  # before the browser starts: Playwright's event loop forbids ORM calls


@pytest.mark.parametrize("csp", ["csp-on", "csp-off"])
def test_hostile_names_never_run_as_script_on_any_page(
    csp: str, settings: Any, seeded: tuple[TestPlan, list[Run]], live_server: Any, browser_page: Any
) -> None:
    """Escaping alone holds (csp-off: no Content-Security-Policy header), and so does the policy."""
    if csp == "csp-off":
        settings.SECURE_CSP = {}
    plan, runs = seeded
    page = browser_page
    base = live_server.url
    dialogs: list[str] = []

    def on_dialog(d: Dialog) -> None:
        dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)

    # The detector works: the same payload, unescaped, is caught.
    page.set_content(f"<div>{PAYLOADS[0]}</div><p>{PAYLOADS[5]}</p>")
    page.wait_for_timeout(200)
    control = page.evaluate(CHECK)
    assert control["ran"] == 1 and control["bad"] and dialogs
    dialogs.clear()

    login = page.goto(f"{base}/accounts/login/")
    assert login is not None
    assert ("content-security-policy" in login.headers) == (csp == "csp-on")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "alice-password-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")

    urls = [
        "/",
        "/runs/",
        "/plans/",
        "/targets/",
        "/scenarios/",
        "/profiles/",
        f"/plans/{plan.pk}/",
        f"/plans/{plan.pk}/edit/",
        f"/targets/{plan.target_id}/",
        f"/targets/{plan.target_id}/verify/",
        f"/scenarios/{plan.scenario_id}/",
        f"/profiles/{plan.profile_id}/",
        f"/targets/{plan.target_id}/delete/",
        *(f"/runs/{run.pk}/" for run in runs),
        *(f"/runs/{run.pk}/tables/" for run in runs),
        f"/runs/compare/?ids={runs[0].pk},{runs[1].pk}",
        f"/teams/{plan.team_id}/",
        "/teams/",
    ]
    charts = 0
    for url in urls:
        response = page.goto(base + url)
        assert response is not None and response.status == 200, url
        page.wait_for_load_state("networkidle")
        plots = page.locator(".js-plotly-plot")
        for i in range(plots.count()):  # hover text is where Plotly renders names again
            box = plots.nth(i).bounding_box()
            if box:
                charts += 1
                for fx in (0.3, 0.5, 0.7):
                    page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * 0.5)
                    page.wait_for_timeout(60)
        result = page.evaluate(CHECK)
        assert result["ran"] is None, f"a payload ran on {url}"
        assert result["bad"] == [], (url, result["bad"])
        assert result["mathjax"] is False, url
        assert dialogs == [], (url, dialogs)
    assert charts >= 4  # the run pages' charts were really drawn and hovered
