"""The live page is consistent: one second for every figure, one time axis, labelled rates,
status banners that follow the run, and only the target facts that apply.

The browser test starts a first test the way a newcomer does (the dashboard's quick test) and
watches it with a real Celery worker and Locust child against the local demo target.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from runs.core.histogram import Histogram
from runs.figures import runs as figures
from runs.models import EndpointSecond, Run, RunSecond, TestPlan
from tests.pages.conftest import make_run

HTTPS = "https://shop.example.com"


def _second(run: Run, t: int, requests: int, latencies: list[float]) -> None:
    h = Histogram()
    for v in latencies:
        h.record_ms(v)
    RunSecond.objects.create(
        run=run, t=t, users=2, requests=requests, failures=0, p50_ms=1, p95_ms=2, p99_ms=3
    )
    EndpointSecond.objects.create(
        run=run, t=t, method="GET", name="/x", requests=requests, failures=0, histogram=h.to_dict()
    )


@pytest.fixture
def running(seeded_plan: TestPlan) -> Run:
    run = make_run(seeded_plan, status=Run.Status.RUNNING, finished_at=None, planned_seconds=10, last_t=-1)
    for t, n in enumerate((2, 3, 5)):
        _second(run, t, n, [10.0] * n)
    Run.objects.filter(pk=run.pk).update(last_t=2, total_requests=10)
    run.refresh_from_db()
    return run


def test_the_live_poll_and_the_tables_are_as_of_the_same_second(
    db: None, alice_client: Client, running: Run
) -> None:
    # A second stored after the run row was read (t=3 > last_t=2) is in neither.
    _second(running, 3, 7, [10.0] * 7)
    live = alice_client.get(reverse("runs-live", args=[running.pk]), {"after": -1}).json()
    assert live["last_t"] == 2 and live["points"]["t"] == [0, 1, 2]
    assert live["total_requests"] == 10
    assert live["progress"]["rps"] == 5  # now: the last second
    assert live["progress"]["rps_mean"] == pytest.approx(10 / 3, abs=0.05)  # mean since the start
    rows = alice_client.get(reverse("runs-tables", args=[running.pk]), {"upto": live["last_t"]}).context[
        "endpoints"
    ]
    assert sum(r["requests"] for r in rows) == live["total_requests"]
    # As of an earlier second, and (cached) again as of a later one.
    rows = alice_client.get(reverse("runs-tables", args=[running.pk]), {"upto": 0}).context["endpoints"]
    assert rows[0]["requests"] == 2 and rows[0]["rps"] == 2
    Run.objects.filter(pk=running.pk).update(last_t=3, total_requests=17)
    rows = alice_client.get(reverse("runs-tables", args=[running.pk]), {"upto": 3}).context["endpoints"]
    assert rows[0]["requests"] == 17


def test_a_second_that_grows_after_it_was_merged_is_counted(
    db: None, alice_client: Client, running: Run
) -> None:
    url = reverse("runs-tables", args=[running.pk])
    assert alice_client.get(url, {"upto": 2}).context["endpoints"][0]["requests"] == 10
    # Another generator's share of second 1 arrives late.
    EndpointSecond.objects.filter(run=running, t=1).update(requests=4)
    row = alice_client.get(url, {"upto": 2}).context["endpoints"][0]
    assert row["requests"] == 11


def test_the_headline_labels_the_current_and_the_mean_rate(
    db: None, alice_client: Client, running: Run
) -> None:
    body = alice_client.get(reverse("runs-detail", args=[running.pk])).content.decode()
    assert 'id="p-rps"' in body and "now (last second)" in body
    assert 'id="p-rps-mean"' in body and "mean since start" in body
    assert "Mean req/s" in body


def test_all_four_charts_share_one_time_axis_the_planned_duration(
    db: None, alice_client: Client, running: Run
) -> None:
    response = alice_client.get(reverse("runs-detail", args=[running.pk]))
    html = response.content.decode()
    for key in ("rps", "latency", "users", "failures"):
        fig = json_script(html, f"fig-{key}")
        assert fig["layout"]["xaxis"]["range"] == [0, 10.0], key


def test_run_figures_without_a_range_keep_plotlys_autorange() -> None:
    figs = figures.run_figures([{"t": 0, "users": 1, "requests": 1, "failures": 0}])
    assert all("range" not in fig["layout"]["xaxis"] for fig in figs.values())


def json_script(html: str, element_id: str) -> Any:
    import json

    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert match, element_id
    return json.loads(match.group(1))


def test_tls_is_mentioned_only_for_an_https_target(
    db: None, alice_client: Client, seeded_plan: TestPlan
) -> None:
    http_run = make_run(seeded_plan)
    assert "TLS" not in alice_client.get(reverse("runs-detail", args=[http_run.pk])).content.decode()
    seeded_plan.target.base_url = HTTPS
    seeded_plan.target.save()
    https_run = make_run(seeded_plan)
    assert (
        "TLS certificate verified"
        in alice_client.get(reverse("runs-detail", args=[https_run.pk])).content.decode()
    )


def test_the_queued_message_is_marked_to_follow_the_run(
    db: None, alice_client: Client, seeded_plan: TestPlan, target_server: str
) -> None:
    seeded_plan.target.base_url = target_server
    seeded_plan.target.save()
    response = alice_client.post(reverse("runs-plan-start", args=[seeded_plan.pk]), follow=True)
    assert re.search(
        r'<li class="message message-success follows-run">Run #\d+ of “Smoke” is queued\.</li>',
        response.content.decode(),
    )


@pytest.mark.slow
@pytest.mark.browser
def test_a_newcomers_quick_test_runs_and_its_live_page_agrees_with_itself(
    transactional_db: None,
    live_server: Any,
    live_worker: Any,
    target_server: str,
    alice: Any,
    browser_page: Any,
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
    # One form: URL, users, duration, start.
    page.fill("#id_url", f"{target_server}/delay?ms=20")
    page.fill("#id_users", "3")
    page.fill("#id_duration", "8")
    page.click("#quick-test-start")
    page.wait_for_url(re.compile(rf"{re.escape(base)}/runs/\d+/$"))
    assert "Quick test run #" in page.inner_text(".messages")
    page.wait_for_selector("#chart-users.js-plotly-plot .main-svg")
    # The four charts span the same time axis, the planned 8 s, while the run is live.
    ranges = page.evaluate(
        "['rps', 'latency', 'users', 'failures']"
        ".map(k => document.getElementById('chart-' + k).layout.xaxis.range)"
    )
    assert ranges == [[0, 8]] * 4
    # While it runs, the endpoint table adds up to the headline at every poll.
    page.wait_for_function(
        "() => Number(document.getElementById('p-requests').textContent) > 0", timeout=60_000
    )
    agree = page.evaluate(
        """() => new Promise((resolve) => {
          const seen = [];
          const check = () => {
            const head = Number(document.getElementById('p-requests').textContent);
            const cells = [...document.querySelectorAll('#endpoint-table tbody tr td:nth-child(3)')];
            const table = cells.reduce((sum, td) => sum + Number(td.textContent), 0);
            if (document.getElementById('progress')) seen.push([head, table]);
            if (seen.length >= 3 || !document.getElementById('progress')) resolve(seen);
            else setTimeout(check, 1000);
          };
          check();
        })"""
    )
    assert agree and all(head == table for head, table in agree), agree
    page.wait_for_selector("#summary", timeout=60_000)
    # Run the plan again: the "is queued" message leaves once a worker has the run.
    page.click("text=Run the plan again")
    page.wait_for_url(re.compile(rf"{re.escape(base)}/runs/\d+/$"))
    page.wait_for_function(
        "() => document.getElementById('run-status').dataset.status !== 'queued'", timeout=60_000
    )
    page.wait_for_function("() => !document.querySelector('.message.follows-run')")
    snapshot = page.inner_text("#snapshot")
    assert "TLS" not in snapshot  # an http:// target
    assert not errors, errors
