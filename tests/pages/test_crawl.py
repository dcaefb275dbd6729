"""Every page renders, and none shows its own template source.

The crawler walks the URL configuration itself: a URL pattern that it does not know how to
fill (a new page) fails the test until it is added here, so nothing escapes it. Each page is
opened as a team admin, as a member of another team, logged out, and (share pages) through
share links, for every kind of run (finished staircase with an analysis, finished constant,
running, queued, failed, cancelled, arrival-rate, distributed, with thresholds, against a
baseline). The Django admin's pages are opened as an operator. Every response must be below
500, and no HTML may contain ``{%``, ``{{``, ``{#`` or ``#}``: template source printed as text
(a multi-line ``{# … #}`` comment is the classic way it happens).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from runs.models import (
    GeneratorSecond,
    MetricSource,
    NotificationChannel,
    NotificationDelivery,
    Run,
    RunSecond,
    ScenarioDataSource,
    TestPlan,
)
from runs.services import catalog
from runs.services.api_tokens import api_token_create
from runs.services.shares import share_create_compare, share_create_run
from tests.pages.conftest import make_run
from tests.pages.test_analysis_pages import seed_run, staircase_plan  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

TEMPLATE_SOURCE = re.compile(r"\{%|\{\{|\{#|#\}")

# Patterns that are not pages of ours: Django admin (crawled by its own registry below), the
# API (JSON; its docs page is crawled explicitly) and the catch-all JSON 404 under /api/v1/.
SKIP_PREFIXES = ("admin/", "api/v1/")


def url_patterns(resolvers: list[Any] | None = None, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in resolvers if resolvers is not None else get_resolver().url_patterns:
        route = prefix + str(entry.pattern)
        if route.startswith(SKIP_PREFIXES):
            continue
        if isinstance(entry, URLResolver):
            yield from url_patterns(entry.url_patterns, route)
        else:
            yield route, entry


CODE = re.compile(r"<script(?![^>]*application/json)[^>]*>.*?</script>", re.S | re.I)


def template_source(html: str) -> list[str]:
    """Snippets of ``html`` that look like template source. Inline JavaScript (the offline
    report inlines Plotly, whose code has ``{{``) is left out; JSON islands are kept."""
    html = CODE.sub("<script></script>", html)
    return [html[max(0, m.start() - 60) : m.end() + 60] for m in TEMPLATE_SOURCE.finditer(html)]


class Crawl:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.seen = 0

    def check(self, client: Client, url: str, who: str, *, ok: tuple[int, ...] = (200,)) -> Any:
        response = client.get(url)
        self.seen += 1
        where = f"{who} GET {url}"
        if response.status_code >= 500 or response.status_code not in (*ok, 302, 400, 403, 404, 405):
            self.problems.append(f"{where}: HTTP {response.status_code}")
            return response
        if "html" in response.get("Content-Type", ""):
            body = response.getvalue().decode(errors="replace")
            for snippet in template_source(body):
                self.problems.append(f"{where}: template source on the page: …{snippet}…")
        return response


@pytest.fixture
def world(alice: Any, carol: Any, staircase_plan: TestPlan) -> dict[str, Any]:  # noqa: F811
    """One of everything, in Alice's team."""
    team = staircase_plan.team
    plan = staircase_plan
    plan.thresholds = [{"metric": "p95", "op": "<", "value": 500.0, "endpoint": "", "abort_after": None}]
    plan.schedule = "0 3 * * 1"
    plan.save()
    staircase = seed_run(plan, name="stairs")
    baseline_candidate = seed_run(plan, seed=2, latency_factor=1.2)
    plan.baseline_run = staircase
    plan.save(update_fields=["baseline_run"])
    constant_profile = catalog.profile_save(
        team=team, name="Flat", kind="constant", params={"users": 3, "duration": 5}
    )
    arrival_profile = catalog.profile_save(
        team=team,
        name="Arrivals",
        kind="arrival_constant",
        params={"rate": 5, "duration": 5, "max_in_flight": 10},
    )
    flat_plan = catalog.plan_create(
        team=team,
        data={"name": "Flat", "target": plan.target, "scenario": plan.scenario, "profile": constant_profile},
        user=alice,
    )
    arrival_plan = catalog.plan_create(
        team=team,
        data={
            "name": "Arrivals",
            "target": plan.target,
            "scenario": plan.scenario,
            "profile": arrival_profile,
        },
        user=alice,
    )
    runs: dict[str, Run] = {"staircase": staircase, "slower": baseline_candidate}

    def with_seconds(run: Run, seconds: int = 4, users: int = 3) -> Run:
        for t in range(seconds):
            RunSecond.objects.create(
                run=run, t=t, users=users, requests=20, failures=0, p50_ms=10, p95_ms=20, p99_ms=30
            )
        Run.objects.filter(pk=run.pk).update(last_t=seconds - 1, total_requests=20 * seconds)
        run.refresh_from_db()
        return run

    runs["constant"] = with_seconds(make_run(flat_plan, p50_ms=10.0, p95_ms=20.0, p99_ms=30.0, max_ms=40.0))
    runs["running"] = with_seconds(
        make_run(flat_plan, status=Run.Status.RUNNING, finished_at=None, heartbeat_at=timezone.now())
    )
    runs["queued"] = make_run(flat_plan, status=Run.Status.QUEUED, started_at=None, finished_at=None)
    runs["failed"] = with_seconds(
        make_run(flat_plan, status=Run.Status.FAILED, error_message="worker lost (no heartbeat)")
    )
    runs["cancelled"] = with_seconds(make_run(flat_plan, status=Run.Status.CANCELLED))
    runs["arrival"] = with_seconds(make_run(arrival_plan, p50_ms=10.0, p95_ms=20.0, p99_ms=30.0, max_ms=40.0))
    distributed = with_seconds(
        make_run(flat_plan, generators=2, p50_ms=10.0, p95_ms=20.0, p99_ms=30.0, max_ms=40.0)
    )
    for generator in range(2):
        for t in range(4):
            GeneratorSecond.objects.create(
                run=distributed, generator=generator, t=t, requests=10, cpu_percent=95.0
            )
    runs["distributed"] = distributed
    ScenarioDataSource.objects.create(
        scenario=plan.scenario, kind=ScenarioDataSource.Kind.LIST, columns=["sku"], rows=[["A"], ["B"]]
    )
    _, run_token = share_create_run(run=staircase, user=alice, label="for the team")
    compare_share, compare_token = share_create_compare(
        team=team, runs=[staircase, baseline_candidate], baseline_id=staircase.pk, user=alice
    )
    api_token, _ = api_token_create(user=alice, name="ci")
    hook = NotificationChannel.objects.create(
        team=team,
        name="ops <b>",
        kind="slack",
        url="http://127.0.0.1:9/hook",
        events=["run.failed"],
        secret="s",
    )
    NotificationDelivery.objects.create(
        channel=hook,
        team=team,
        run=staircase,
        event="run.failed",
        status="retrying",
        attempts=1,
        attempt_log=[{"at": "2026-01-01T00:00:00", "status_code": 500, "error": "Answered 500.", "ms": 3.0}],
    )
    return {
        "hook": hook,
        "team": team,
        "plan": plan,
        "runs": runs,
        "run_token": run_token,
        "compare_token": compare_token,
        "compare_share": compare_share,
        "api_token": api_token,
        "carol_team": carol.memberships.get().team,
    }


def concrete_urls(name: str, route: str, w: dict[str, Any]) -> list[str] | None:
    """The URLs to open for a named pattern (``None``: the crawler does not know this page)."""
    runs: dict[str, Run] = w["runs"]
    run_ids = [r.pk for r in runs.values()]
    ids = f"{runs['staircase'].pk},{runs['slower'].pk}"
    pages = {
        "runs-compare": [
            f"?ids={ids}",
            f"?ids={runs['staircase'].pk},{runs['constant'].pk},{runs['arrival'].pk}&ref={runs['constant'].pk}",
            f"?ids={runs['staircase'].pk}",  # too few: explained, not an error
        ],
        "runs-compare-window": [f"?ids={ids}&start=10&end=60"],
        "runs-list": ["", "?tag=x&trigger=page", "?plan=abc"],
        "runs-profile-preview": [
            "?kind=staircase&start_users=2&step_users=2&step_duration=10&steps=3",
            "?kind=nonsense",
        ],
    }
    if name in pages:
        return [reverse(name) + query for query in pages[name]]
    pattern_args = re.findall(r"<(?:\w+:)?(\w+)>", route)
    if not pattern_args:
        return [reverse(name)]
    by_prefix = {
        "runs-detail": run_ids,
        "runs-live": run_ids,
        "runs-metrics-live": run_ids,
        "runs-metric-source-create": [w["plan"].target_id],
        "runs-tables": run_ids,
        "runs-cancel": run_ids[:1],
        "runs-control": run_ids[:1],
        "runs-stop-early": run_ids[:1],
        "runs-baseline": run_ids[:1],
        "runs-export-csv": run_ids,
        "runs-export-json": run_ids,
        "runs-report": run_ids,
        "runs-annotate": run_ids[:1],
        "runs-pin": run_ids[:1],
        "runs-share": run_ids[:1],
        "runs-plan-": [w["plan"].pk],
        "runs-target-": [w["plan"].target_id],
        "runs-scenario-": [w["plan"].scenario_id],
        "runs-profile-": [w["plan"].profile_id],
        "api-token-revoke": [w["api_token"].pk],
        "teams-": [w["team"].pk, w["carol_team"].pk],
    }
    if pattern_args == ["token"]:
        return [reverse(name, args=[w["run_token"]]), reverse(name, args=[w["compare_token"]])]
    if pattern_args == ["pk"]:
        for prefix, pks in by_prefix.items():
            if name.startswith(prefix):
                return [reverse(name, args=[pk]) for pk in pks]
        return None
    if name.startswith("runs-metric-source-"):
        target = w["plan"].target
        source = target.metric_sources.first() or MetricSource.objects.create(
            target=target,
            name="host",
            url="http://127.0.0.1:9100/metrics",
            series=[{"name": "up", "expr": "up"}],
        )
        return [reverse(name, args=[target.pk, source.pk])]
    if name == "teams-member":
        return [reverse(name, args=[w["team"].pk, w["team"].memberships.first().pk])]
    if name.startswith("teams-hook-"):
        return [reverse(name, args=[w["team"].pk, w["hook"].pk])]
    if name == "teams-share-revoke":
        return [reverse(name, args=[w["team"].pk, w["compare_share"].pk])]
    return None


def test_every_page_renders_without_template_source_for_every_persona_and_run_kind(
    world: dict[str, Any], alice: Any, carol: Any
) -> None:
    crawl = Crawl()
    alice_client, carol_client, anonymous = Client(), Client(), Client()
    alice_client.force_login(alice)
    carol_client.force_login(carol)
    unknown: list[str] = []
    for route, pattern in url_patterns():
        name = pattern.name or route
        urls = concrete_urls(name, route, world)
        if urls is None:
            unknown.append(f"{name} ({route})")
            continue
        for url in urls:
            crawl.check(alice_client, url, "alice (team admin)")
            crawl.check(carol_client, url, "carol (another team)")
            crawl.check(anonymous, url, "logged out")
    assert not unknown, f"pages the crawler does not know how to open: {unknown}"
    # The share pages, logged out, must actually render (not only redirect).
    for token in (world["run_token"], world["compare_token"]):
        response = crawl.check(anonymous, reverse("share-page", args=[token]), "share link")
        assert response.status_code == 200
    crawl.check(alice_client, "/api/v1/docs", "alice")
    crawl.check(anonymous, reverse("login"), "logged out")
    # Every run kind's page rendered for its team's admin.
    for kind, run in world["runs"].items():
        response = alice_client.get(reverse("runs-detail", args=[run.pk]))
        assert response.status_code == 200, (kind, response.status_code)
    assert not crawl.problems, "\n".join(crawl.problems)
    assert crawl.seen > 150


def test_every_admin_page_renders_without_template_source(world: dict[str, Any]) -> None:
    operator = get_user_model().objects.create_superuser(
        username="olga", email="", password="olga-password-123"
    )
    client = Client()
    client.force_login(operator)
    crawl = Crawl()
    crawl.check(client, reverse("admin:index"), "operator")
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        crawl.check(client, reverse("admin:{}_{}_changelist".format(*info)), "operator")
        if model_admin.has_add_permission(type("R", (), {"user": operator})()):
            crawl.check(client, reverse("admin:{}_{}_add".format(*info)), "operator")
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            crawl.check(client, reverse("admin:{}_{}_change".format(*info), args=[first.pk]), "operator")
    assert not crawl.problems, "\n".join(crawl.problems)


def test_no_template_has_a_multi_line_short_comment() -> None:
    """``{# … #}`` ends at the line's end: spread over lines it is printed as text. Templates
    use ``{% comment %}`` for anything longer than a line."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    offenders = [
        f"{path.relative_to(root)}:{text[: m.start()].count(chr(10)) + 1}"
        for path in root.rglob("*.html")
        for text in [path.read_text()]
        for m in re.finditer(r"\{#(?:(?!#\}).)*\n", text, re.S)
    ]
    assert not offenders, offenders
