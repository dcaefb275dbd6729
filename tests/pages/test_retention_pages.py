"""Retention on the run page: pinning a run (editors only, CSRF) and a rolled-up run's page,
whose charts show the same req/s at 10 s resolution (in Chromium)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from runs.models import AuditEntry, Run, RunSecond
from runs.services.analysis import run_analyses_ensure
from runs.services.retention import run_rollup
from tests.pages.conftest import make_run
from tests.pages.test_analysis_pages import make_staircase_plan, seed_run
from tests.pages.test_capacity_pages import log_in

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def client_for(user: Any, *, strict: bool = False) -> Client:
    c = Client(enforce_csrf_checks=strict)
    c.force_login(user)
    return c


@pytest.mark.django_db
def test_editors_pin_and_unpin_a_run_from_its_page_with_csrf(
    alice: Any, bob: Any, victor: Any, carol: Any, finished_run: Run
) -> None:
    page_url, url = finished_run.get_absolute_url(), reverse("runs-pin", args=[finished_run.pk])
    bob_client = client_for(bob, strict=True)
    page = bob_client.get(page_url).content.decode()
    assert 'id="pin-form"' in page and "Pin: keep at full resolution" in page
    assert bob_client.post(url, {"pinned": "1"}).status_code == 403  # no CSRF token
    token = CSRF.search(page.split('id="pin-form"', 1)[1])
    assert token is not None
    response = bob_client.post(url, {"pinned": "1", "csrfmiddlewaretoken": token.group(1)}, follow=True)
    assert response.status_code == 200
    body = response.content.decode()
    assert (
        "Kept at full resolution: the retention policy never rolls it up." in body
        and ">Unpin</button>" in body
    )
    assert Run.objects.get(pk=finished_run.pk).pinned is True
    entry = AuditEntry.objects.get(action="run.pin")
    assert (entry.actor, entry.via, entry.details["pinned"], entry.object_id) == (
        bob,
        "page",
        True,
        str(finished_run.pk),
    )

    # A viewer of the team is refused (403) and sees no form; another team's user gets 404.
    assert client_for(victor).post(url, {"pinned": "0"}).status_code == 403
    assert 'id="pin-form"' not in client_for(victor).get(page_url).content.decode()
    assert client_for(carol).post(url, {"pinned": "0"}).status_code == 404
    assert Run.objects.get(pk=finished_run.pk).pinned is True

    response = client_for(alice).post(url, {"pinned": "0"}, follow=True)
    assert "Kept at full resolution: the retention policy never rolls it up." not in response.content.decode()
    assert Run.objects.get(pk=finished_run.pk).pinned is False
    assert AuditEntry.objects.filter(action="run.pin").count() == 2


@pytest.mark.django_db
def test_an_active_run_cannot_be_pinned(alice: Any, seeded_plan: Any) -> None:
    running = make_run(seeded_plan, status=Run.Status.RUNNING)
    response = client_for(alice).post(reverse("runs-pin", args=[running.pk]), {"pinned": "1"}, follow=True)
    assert "only an ended run can be pinned" in response.content.decode()
    assert Run.objects.get(pk=running.pk).pinned is False


@pytest.mark.django_db
def test_a_baseline_runs_page_says_the_retention_policy_keeps_it_whole(alice: Any) -> None:
    plan = make_staircase_plan(alice)
    base, other = seed_run(plan, seed=1), seed_run(plan, seed=2)
    client = client_for(alice)
    page = client.get(base.get_absolute_url()).content.decode()
    assert 'id="baseline-retention"' not in page
    client.post(reverse("runs-baseline", args=[base.pk]))
    page = client.get(base.get_absolute_url()).content.decode()
    note = re.search(r'id="baseline-retention">([^<]*)<', page)
    assert note is not None
    assert note.group(1) == "kept at full resolution: the retention policy never rolls up a baseline"
    assert 'id="baseline-retention"' not in client.get(other.get_absolute_url()).content.decode()

    # A run rolled up before it became the baseline keeps the resolution it has.
    Run.objects.filter(pk__in=[base.pk, other.pk]).update(finished_at=timezone.now() - dt.timedelta(days=40))
    other.refresh_from_db()
    run_analyses_ensure(ids=[other.pk])
    assert run_rollup(run=other).rolled
    client.post(reverse("runs-baseline", args=[other.pk]))
    page = client.get(other.get_absolute_url()).content.decode()
    note = re.search(r'id="baseline-retention">([^<]*)<', page)
    assert note is not None and note.group(1) == "kept at the resolution it has now"


@pytest.fixture
def rolled_run(transactional_db: None, alice: Any) -> tuple[Run, list[float]]:
    """A 155 s staircase run aged 40 days and rolled up, with the req/s of each 10 s window
    computed from its per-second rows before the roll-up. Made before the browser starts."""
    run = seed_run(make_staircase_plan(alice), step_seconds=31, seed=3)
    run_analyses_ensure(ids=[run.pk])
    per_second = list(RunSecond.objects.filter(run=run).order_by("t").values_list("t", "requests"))
    expected = []
    for start in range(0, run.last_t + 1, 10):
        window = [n for t, n in per_second if start <= t < start + 10]
        expected.append(sum(window) / len(window))
    Run.objects.filter(pk=run.pk).update(finished_at=timezone.now() - dt.timedelta(days=40))
    run.refresh_from_db()
    assert run_rollup(run=run).rolled
    return run, expected


@pytest.mark.browser
def test_a_rolled_up_runs_page_draws_the_same_req_per_second_at_10_s(
    live_server: Any, rolled_run: tuple[Run, list[float]], browser_page: Any
) -> None:
    run, expected = rolled_run
    page = browser_page
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    base = live_server.url
    log_in(page, base)
    page.goto(f"{base}/runs/{run.pk}/")
    page.wait_for_function("() => document.getElementById('chart-rps').data !== undefined")
    xs, ys = page.evaluate(
        "(() => { const d = document.getElementById('chart-rps').data[0]; return [d.x, d.y]; })()"
    )
    assert xs == list(range(0, 160, 10))
    assert ys == pytest.approx(expected, rel=1e-9)
    # The last window holds 5 seconds: its rate is over those 5, not 10.
    assert ys[-1] > 100
    note = page.locator("#resolution-note")
    assert note.is_visible()
    assert note.inner_text().startswith("10 s resolution (rolled up after 40 days)")
    assert errors == [], errors
