"""Notification hooks and deliveries against the real database and a real local receiver
(runs.services.notifications): address rules, events of an ended run, one attempt at a time,
e-mail through Django's mailer (locmem in tests), and who may manage hooks."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from runs.core.notifications.payloads import signature_check
from runs.models import NotificationChannel, NotificationDelivery, Run
from runs.services import notifications
from runs.services.runs import plan_snapshot
from tests.pages.test_analysis_pages import seed_run, staircase_plan  # noqa: F401 (a fixture)
from tests.webhook_receiver import Receiver, receiver_fixture

EVENTS = NotificationChannel.Event


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from receiver_fixture()


def _hook(
    team: Any, url: str, *, kind: str = "webhook", events: list[str] | None = None
) -> NotificationChannel:
    return notifications.channel_create(
        team=team, user=None, name="ops", kind=kind, url=url, events=events or list(EVENTS.values)
    )


def _ended_run(plan: Any, *, status: str = Run.Status.FINISHED, passed: bool | None = None) -> Run:
    now = timezone.now()
    return Run.objects.create(
        team=plan.team,
        plan=plan,
        plan_name=plan.name,
        snapshot=plan_snapshot(plan=plan),
        status=status,
        started_at=now,
        finished_at=now,
        total_requests=100,
        total_failures=3,
        p95_ms=42.0,
        passed=passed,
        threshold_results=[
            {"label": "p95 < 10 ms", "metric": "p95", "observed": 42.0, "verdict": "failed", "note": ""}
        ]
        if passed is False
        else [],
    )


# -- address rules ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://10.1.2.3/hook", "private-network"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://0.0.0.0:9/hook", "unspecified"),
        ("http://localhost:8000/hook", "loopback"),  # a name resolving to loopback, port not allowlisted
        ("ftp://example.com/hook", "http:// or https://"),
        ("", "needs a URL"),
    ],
)
def test_a_webhook_to_a_forbidden_address_is_refused_with_a_clear_message(
    team: Any, settings: Any, url: str, reason: str
) -> None:
    settings.SCALETEST_ALLOWLIST = ["127.0.0.1:8089"]
    with pytest.raises(notifications.NotifyError) as caught:
        _hook(team, url)
    assert reason in str(caught.value)
    assert caught.value.field == "url"
    assert not NotificationChannel.objects.exists()


def test_a_forbidden_address_says_where_the_allowlist_is_edited(team: Any, settings: Any) -> None:
    settings.SCALETEST_ALLOWLIST = []
    with pytest.raises(notifications.NotifyError, match="adds 127.0.0.1:9000 to the allowlist"):
        _hook(team, "http://127.0.0.1:9000/hook")


def test_bad_recipients_and_no_events_are_refused(team: Any) -> None:
    with pytest.raises(notifications.NotifyError, match="“not-an-address” is not an e-mail address"):
        notifications.channel_create(
            team=team,
            user=None,
            name="mail",
            kind="email",
            recipients="ok@example.com\nnot-an-address",
            events=[EVENTS.FAILED],
        )
    with pytest.raises(notifications.NotifyError, match="at least one event"):
        notifications.channel_create(
            team=team, user=None, name="mail", kind="email", recipients="ok@example.com", events=[]
        )
    assert not NotificationChannel.objects.exists()


def test_an_address_that_became_forbidden_fails_at_delivery_without_a_request(
    team: Any, receiver: Receiver, settings: Any
) -> None:
    hook = _hook(team, f"{receiver.url}/hook")
    delivery = notifications.delivery_test(channel=hook, user=None)
    settings.SCALETEST_ALLOWLIST = []  # the administrator closed it after the hook was saved
    assert notifications.delivery_attempt(delivery_id=delivery.pk, final=False) == notifications.FAILED
    delivery.refresh_from_db()
    assert "loopback" in delivery.last_error
    assert receiver.requests == []


# -- one attempt -------------------------------------------------------------------------------
def test_an_attempt_posts_a_signed_body_and_records_itself(team: Any, receiver: Receiver) -> None:
    hook = _hook(team, f"{receiver.url}/hook?source=scaletest")
    delivery = notifications.delivery_test(channel=hook, user=None)

    assert notifications.delivery_attempt(delivery_id=delivery.pk, final=False) == notifications.DELIVERED

    (request,) = receiver.requests
    assert request.path == "/hook?source=scaletest"
    assert (
        signature_check(
            hook.secret,
            body=request.body,
            timestamp_header=request.headers["X-ScaleTest-Timestamp"],
            signature_header=request.headers["X-ScaleTest-Signature"],
            now=time.time(),
        )
        is None
    )
    assert request.headers["X-ScaleTest-Delivery"] == str(delivery.pk)
    assert json.loads(request.body)["event"] == "test"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert len(delivery.attempt_log) == 1 and delivery.attempt_log[0]["status_code"] == 200
    # A second message for the same delivery finds it done: nothing is sent twice.
    assert notifications.delivery_attempt(delivery_id=delivery.pk, final=False) == notifications.SKIPPED
    assert len(receiver.requests) == 1


def test_a_500_is_retried_a_404_is_not_and_a_redirect_is_not_followed(team: Any, receiver: Receiver) -> None:
    hook = _hook(team, f"{receiver.url}/hook")
    receiver.answers = [500, 404, (302, {"Location": "http://169.254.169.254/"})]
    first = notifications.delivery_test(channel=hook, user=None)
    assert notifications.delivery_attempt(delivery_id=first.pk, final=False) == notifications.RETRY
    first.refresh_from_db()
    assert (first.status, first.last_status_code) == ("retrying", 500)
    assert "receiver says no" in first.last_error

    second = notifications.delivery_test(channel=hook, user=None)
    assert notifications.delivery_attempt(delivery_id=second.pk, final=False) == notifications.FAILED

    third = notifications.delivery_test(channel=hook, user=None)
    assert notifications.delivery_attempt(delivery_id=third.pk, final=False) == notifications.FAILED
    third.refresh_from_db()
    assert "redirects are not followed" in third.last_error
    assert len(receiver.requests) == 3  # nothing went to the redirect's address

    # The retry of the first one succeeds (the receiver answers 200 now).
    assert notifications.delivery_attempt(delivery_id=first.pk, final=False) == notifications.DELIVERED
    first.refresh_from_db()
    assert (first.status, first.attempts) == ("delivered", 2)
    assert [a["status_code"] for a in first.attempt_log] == [500, 200]


def test_the_last_allowed_attempt_fails_for_good(team: Any, receiver: Receiver) -> None:
    hook = _hook(team, f"{receiver.url}/hook")
    receiver.answers = [503]
    delivery = notifications.delivery_test(channel=hook, user=None)
    assert notifications.delivery_attempt(delivery_id=delivery.pk, final=True) == notifications.FAILED
    delivery.refresh_from_db()
    assert delivery.status == "failed"


def test_email_goes_through_djangos_mailer(team: Any) -> None:
    hook = notifications.channel_create(
        team=team,
        user=None,
        name="on-call",
        kind="email",
        recipients="ops@example.com, lead@example.com",
        events=[EVENTS.FAILED],
    )
    delivery = notifications.delivery_test(channel=hook, user=None)
    assert notifications.delivery_attempt(delivery_id=delivery.pk, final=False) == notifications.DELIVERED
    (message,) = mail.outbox
    assert message.to == ["ops@example.com", "lead@example.com"]
    assert message.subject == "ScaleTest: test delivery for team “Alice's team”"


# -- what an ended run raises ------------------------------------------------------------------
def test_a_run_that_failed_its_thresholds_raises_finished_and_threshold_failed_once(
    team: Any, make_plan: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    plan = make_plan(f"{receiver.url}")
    all_events = _hook(team, f"{receiver.url}/all")
    failures_only = _hook(team, f"{receiver.url}/failures", events=[EVENTS.FAILED, EVENTS.THRESHOLD_FAILED])
    paused = _hook(team, f"{receiver.url}/paused")
    paused.active = False
    paused.save()
    run = _ended_run(plan, passed=False)

    with django_capture_on_commit_callbacks(execute=False):
        created = notifications.run_deliveries_create(run_id=run.pk)
        again = notifications.run_deliveries_create(run_id=run.pk)  # a second delivery of the task

    assert again == []
    rows = NotificationDelivery.objects.filter(pk__in=created)
    assert sorted((d.channel_id, d.event) for d in rows) == sorted(
        [
            (all_events.pk, EVENTS.FINISHED),
            (all_events.pk, EVENTS.THRESHOLD_FAILED),
            (failures_only.pk, EVENTS.THRESHOLD_FAILED),
        ]
    )
    facts = rows.get(channel=failures_only).facts
    assert facts["failed_thresholds"] == [{"label": "p95 < 10 ms", "observed": "42 ms", "note": ""}]
    assert facts["run_url"].endswith(f"/runs/{run.pk}/")


def test_no_events_for_a_cancelled_run_or_another_teams_hooks(
    team: Any, carol: Any, make_plan: Any, receiver: Receiver
) -> None:
    carols_team = carol.memberships.get().team
    _hook(carols_team, f"{receiver.url}/carol")
    plan = make_plan(receiver.url)
    cancelled = _ended_run(plan, status=Run.Status.CANCELLED)
    finished = _ended_run(plan)
    assert notifications.run_deliveries_create(run_id=cancelled.pk) == []
    assert notifications.run_deliveries_create(run_id=finished.pk) == []  # Alice's team has no hook


# -- pages: who sees and manages hooks ---------------------------------------------------------
def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_admins_manage_hooks_members_see_the_log_without_secrets(
    team: Any, alice: Any, victor: Any, carol: Any, receiver: Receiver
) -> None:
    admin = _client(alice)
    response = admin.post(
        f"/teams/{team.pk}/hooks/new/",
        {
            "name": "ops <b>",
            "kind": "webhook",
            "url": f"{receiver.url}/hook",
            "events": [EVENTS.FAILED],
            "active": "on",
        },
    )
    hook = NotificationChannel.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/teams/{team.pk}/hooks/{hook.pk}/"
    assert hook.secret.startswith("whsec_") and hook.created_by == alice

    # A bad URL: a clear message on the field, nothing saved.
    response = admin.post(
        f"/teams/{team.pk}/hooks/new/",
        {"name": "meta", "kind": "webhook", "url": "http://169.254.169.254/", "events": [EVENTS.FAILED]},
    )
    assert response.status_code == 200
    assert "link-local address" in response.content.decode()
    assert NotificationChannel.objects.count() == 1

    viewer = _client(victor)
    page = viewer.get(f"/teams/{team.pk}/").content.decode()
    assert "ops &lt;b&gt;" in page and "ops <b>" not in page
    assert hook.secret not in page and receiver.url not in page
    assert viewer.get(f"/teams/{team.pk}/hooks/{hook.pk}/").status_code == 403
    assert viewer.post(f"/teams/{team.pk}/hooks/{hook.pk}/test/").status_code == 403
    assert viewer.post(f"/teams/{team.pk}/hooks/new/", {"name": "x"}).status_code == 403
    assert _client(carol).get(f"/teams/{team.pk}/hooks/{hook.pk}/").status_code == 404
    assert _client(carol).post(f"/teams/{team.pk}/hooks/{hook.pk}/delete/").status_code == 404
    assert NotificationChannel.objects.count() == 1

    edit = admin.get(f"/teams/{team.pk}/hooks/{hook.pk}/").content.decode()
    assert hook.secret in edit
    old_secret = hook.secret
    admin.post(f"/teams/{team.pk}/hooks/{hook.pk}/secret/")
    hook.refresh_from_db()
    assert hook.secret != old_secret
    admin.post(f"/teams/{team.pk}/hooks/{hook.pk}/delete/")
    assert not NotificationChannel.objects.exists()


def test_the_team_page_reads_hooks_and_log_in_a_fixed_number_of_queries(
    team: Any, alice: Any, receiver: Receiver, django_assert_max_num_queries: Any
) -> None:
    client = _client(alice)
    for i in range(3):
        hook = _hook(team, f"{receiver.url}/{i}")
        for _ in range(3):
            notifications.delivery_test(channel=hook, user=alice)
    client.get(f"/teams/{team.pk}/")  # warm the session
    with django_assert_max_num_queries(12):
        page = client.get(f"/teams/{team.pk}/").content.decode()
    assert page.count("data-delivery=") == 9


def test_a_run_the_reaper_fails_asks_for_its_failed_notification(
    team: Any, make_plan: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    from datetime import timedelta

    from runs.engine.reaper import runs_reap_stale

    hook = _hook(team, f"{receiver.url}/hook", events=[EVENTS.FAILED])
    plan = make_plan(receiver.url)
    silent = timezone.now() - timedelta(minutes=10)
    run = Run.objects.create(
        team=plan.team,
        plan=plan,
        plan_name=plan.name,
        snapshot=plan_snapshot(plan=plan),
        status=Run.Status.RUNNING,
        started_at=silent,
        heartbeat_at=silent,
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert runs_reap_stale(stale_after_seconds=60) == [run.pk]
    assert len(callbacks) == 1  # notify_run_ended, sent once the end is committed

    (delivery_id,) = notifications.run_deliveries_create(run_id=run.pk)
    delivery = NotificationDelivery.objects.get(pk=delivery_id)
    assert (delivery.channel, delivery.event) == (hook, EVENTS.FAILED)
    assert "The worker was lost" in delivery.facts["error_message"]
    assert notifications.delivery_attempt(delivery_id=delivery_id, final=False) == notifications.DELIVERED
    assert json.loads(receiver.requests[0].body)["status"] == "failed"


def test_a_run_slower_than_its_plans_baseline_raises_a_regression(
    team: Any,
    staircase_plan: Any,  # noqa: F811 - the fixture imported above
    receiver: Receiver,
    django_capture_on_commit_callbacks: Any,
) -> None:
    base = seed_run(staircase_plan, seed=1)
    same = seed_run(staircase_plan, seed=2)
    slower = seed_run(staircase_plan, seed=3, latency_factor=1.2)
    staircase_plan.baseline_run = base
    staircase_plan.save()
    hook = _hook(team, f"{receiver.url}/hook", events=[EVENTS.REGRESSION])

    with django_capture_on_commit_callbacks(execute=False):
        assert notifications.run_deliveries_create(run_id=same.pk) == []  # no significant change
        assert notifications.run_deliveries_create(run_id=base.pk) == []  # the baseline itself
        (delivery_id,) = notifications.run_deliveries_create(run_id=slower.pk)

    delivery = NotificationDelivery.objects.get(pk=delivery_id)
    assert (delivery.channel, delivery.event) == (hook, EVENTS.REGRESSION)
    regression = delivery.facts["regression"]
    assert regression["baseline_run_id"] == base.pk and regression["verdict"] == "slower"
    assert 10 < regression["shift_percent"] < 30  # the seeded runs are 20 % slower
    assert regression["baseline_url"].endswith(f"/runs/{base.pk}/")


# -- nothing stays "sending" ---------------------------------------------------------------------
def _killed_mid_send(delivery: NotificationDelivery, *, attempts: int, ago: float) -> None:
    """The row as an attempt whose worker was killed mid-send leaves it: claimed, never ended."""
    NotificationDelivery.objects.filter(pk=delivery.pk).update(
        status=NotificationDelivery.Status.SENDING,
        attempts=attempts,
        sending_at=timezone.now() - dt.timedelta(seconds=ago),
    )


def test_a_delivery_whose_worker_died_mid_send_is_tried_again_and_then_delivered(
    team: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    hook = _hook(team, f"{receiver.url}/hook")
    stuck = notifications.delivery_test(channel=hook, user=None)
    recent = notifications.delivery_test(channel=hook, user=None)
    _killed_mid_send(stuck, attempts=1, ago=notifications.sending_stale_after() + 5)
    _killed_mid_send(recent, attempts=1, ago=5)  # may still be sending: left alone

    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        assert notifications.deliveries_recover_stale() == ([stuck.pk], [])
    assert len(enqueued) == 1
    stuck.refresh_from_db()
    recent.refresh_from_db()
    assert recent.status == "sending"
    assert stuck.status == "retrying" and "worker stopped during this attempt" in stuck.last_error
    # Its message lost too (a broker restart): once the longest retry wait is over, sent again.
    NotificationDelivery.objects.filter(pk=recent.pk).update(status=NotificationDelivery.Status.DELIVERED)
    later = timezone.now() + dt.timedelta(seconds=3600 + 2 * notifications.sending_stale_after())
    assert notifications.deliveries_recover_stale(now=later) == ([stuck.pk], [])
    # The attempt the task makes when the message arrives sends it.
    assert notifications.delivery_attempt(delivery_id=stuck.pk, final=False) == notifications.DELIVERED
    stuck.refresh_from_db()
    assert (stuck.status, stuck.attempts) == ("delivered", 2)
    assert [a["status_code"] for a in stuck.attempt_log] == [None, 200]
    assert len(receiver.requests) == 1


def test_a_stuck_delivery_with_its_attempts_used_up_is_marked_failed(
    team: Any, receiver: Receiver, settings: Any
) -> None:
    hook = _hook(team, f"{receiver.url}/hook")
    stuck = notifications.delivery_test(channel=hook, user=None)
    _killed_mid_send(stuck, attempts=settings.SCALETEST_NOTIFY_MAX_ATTEMPTS, ago=3600)
    assert notifications.deliveries_recover_stale() == ([], [stuck.pk])
    stuck.refresh_from_db()
    assert stuck.status == "failed" and "worker stopped during this attempt" in stuck.last_error
    assert notifications.delivery_attempt(delivery_id=stuck.pk, final=False) == notifications.SKIPPED
    assert receiver.requests == []


def test_a_recovered_delivery_still_counts_its_earlier_attempts(
    team: Any, receiver: Receiver, settings: Any
) -> None:
    """Sent again as a new task (whose own retry count starts at 0), the last allowed attempt
    is still the last."""
    hook = _hook(team, f"{receiver.url}/hook")
    receiver.answers = [503]
    stuck = notifications.delivery_test(channel=hook, user=None)
    _killed_mid_send(stuck, attempts=settings.SCALETEST_NOTIFY_MAX_ATTEMPTS - 1, ago=3600)
    assert notifications.deliveries_recover_stale() == ([stuck.pk], [])
    assert notifications.delivery_attempt(delivery_id=stuck.pk, final=False) == notifications.FAILED
