"""Notifications end to end: a real run on a real Celery worker against the demo target, a real
local webhook receiver that fails the first attempt, and the delivery log in Chromium."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connections

from runs.core.notifications.payloads import signature_check
from runs.models import NotificationChannel, NotificationDelivery, Run
from runs.services import notifications
from runs.services.runs import run_create
from tests.engine.helpers import wait_for
from tests.webhook_receiver import Receiver, receiver_fixture

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from receiver_fixture()


def orm[T](work: Callable[[], T]) -> T:
    """Run ORM work in a thread of its own: Playwright's sync API keeps an event loop running in
    the test's thread, where Django refuses database calls."""

    def call() -> T:
        try:
            return work()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()


def _login(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"{username}-password-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_a_finished_run_is_signed_retried_after_a_500_and_logged_on_the_team_page(
    transactional_db: None,
    live_server: Any,
    live_worker: Any,
    target_server: str,
    alice: Any,
    victor: Any,
    team: Any,
    make_plan: Any,
    receiver: Receiver,
    browser_page: Any,
) -> None:
    hook = orm(
        lambda: notifications.channel_create(
            team=team,
            user=alice,
            name="Perf alerts",
            kind="webhook",
            url=f"{receiver.url}/scaletest",
            events=[NotificationChannel.Event.FINISHED, NotificationChannel.Event.FAILED],
        )
    )
    receiver.answers = [500]  # the first attempt fails; the task retries with backoff
    plan = orm(
        lambda: make_plan(target_server, "/delay", query={"ms": "5"}, params={"users": 2, "duration": 2})
    )

    run = orm(lambda: run_create(plan=plan))
    wait_for(
        lambda: orm(lambda: Run.objects.filter(pk=run.pk, status=Run.Status.FINISHED).exists()),
        timeout=60,
        interval=0.5,
        what="the run to finish",
    )
    first, second = receiver.wait_for(2, timeout=60)
    orm(run.refresh_from_db)

    # Both attempts carry the same delivery, each signed with the hook's secret over its body.
    for request in (first, second):
        assert request.path == "/scaletest"
        assert request.headers["X-ScaleTest-Event"] == "run.finished"
        problem = signature_check(
            hook.secret,
            body=request.body,
            timestamp_header=request.headers["X-ScaleTest-Timestamp"],
            signature_header=request.headers["X-ScaleTest-Signature"],
            now=time.time(),
        )
        assert problem is None, problem
    assert first.headers["X-ScaleTest-Delivery"] == second.headers["X-ScaleTest-Delivery"]
    assert second.at > first.at
    payload = json.loads(second.body)
    assert payload["event"] == "run.finished" and payload["run_id"] == run.pk
    assert payload["status"] == "finished" and payload["plan"] == plan.name
    assert payload["requests"] == run.total_requests > 0
    assert payload["run_url"].endswith(f"/runs/{run.pk}/")

    delivery = wait_for(
        lambda: orm(lambda: NotificationDelivery.objects.filter(run=run, status="delivered").first()),
        timeout=10,
        what="the delivery to be recorded",
    )
    assert delivery.attempts == 2
    assert [a["status_code"] for a in delivery.attempt_log] == [500, 200]
    assert len(receiver.requests) == 2  # delivered once, never again

    # A viewer sees the log (not the hook's URL or secret) in Chromium.
    page = browser_page
    base = live_server.url
    _login(page, base, "victor")
    page.goto(f"{base}/teams/{team.pk}/")
    row = page.locator(f"#deliveries tr[data-delivery='{delivery.pk}']")
    assert row.get_attribute("data-status") == "delivered"
    cells = row.locator("td")
    assert cells.nth(2).inner_text() == "Perf alerts"
    assert cells.nth(3).inner_text() == "run.finished"
    assert cells.nth(4).inner_text() == f"#{run.pk}"
    assert cells.nth(5).inner_text() == "Delivered"
    assert cells.nth(6).inner_text() == "2"
    row.locator("summary").click()
    attempts = row.locator("details li").all_inner_texts()
    assert "HTTP 500" in attempts[0] and "receiver says no" in attempts[0]
    assert "HTTP 200" in attempts[1] and "delivered" in attempts[1]
    content = page.content()
    assert hook.secret not in content and receiver.url not in content
    assert page.locator("[data-test-hook]").count() == 0  # viewers cannot send test deliveries

    # The admin sends a test delivery with the button; the worker delivers it.
    page.context.clear_cookies()
    _login(page, base, "alice")
    page.goto(f"{base}/teams/{team.pk}/")
    page.click(f"[data-test-hook='{hook.pk}']")
    page.wait_for_url(f"{base}/teams/{team.pk}/")
    assert "is queued" in page.locator(".messages, [role=status], body").first.inner_text()
    third = receiver.wait_for(3, timeout=30)[2]
    assert third.headers["X-ScaleTest-Event"] == "test"
    test_delivery = wait_for(
        lambda: orm(lambda: NotificationDelivery.objects.filter(event="test", status="delivered").first()),
        timeout=10,
        what="the test delivery to be recorded",
    )
    page.reload()
    test_row = page.locator(f"#deliveries tr[data-delivery='{test_delivery.pk}']")
    assert test_row.get_attribute("data-status") == "delivered"
    assert test_row.locator("td").nth(4).inner_text() == "–"
