"""Notifications: a team's hooks (webhook, Slack, Teams, e-mail), what an ended run raises, and
each delivery with its attempts.

* ``channel_create`` / ``channel_update`` / ``channel_delete`` / ``channel_rotate_secret``:
  team admins manage hooks (the views check the role).
* ``notifications_run_ended``: called where a run ends (``run_finish``, the reaper); enqueues
  ``runs.tasks.notify_run_ended`` (sent by name, ``runs.services.dispatch``) once the end is committed.
* ``run_deliveries_create``: the events of an ended run (finished / failed / threshold failed /
  slower than the baseline) for every active hook that wants them; one row per
  (hook, run, event), so a second delivery of the task creates nothing twice.
* ``delivery_test``: the "Send test delivery" button.
* ``delivery_attempt``: one attempt (claimed in the database), recorded on the row; the task
  retries with backoff while the outcome is ``RETRY``.

Webhook URLs are requests from our workers to user-typed addresses: the host is resolved and
every address checked at save and again at each attempt (public, or on the administrator's
allowlist; ``runs.core.safety``), the request goes to the checked address, redirects are not followed.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import secrets
import time
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from runs.core import thresholds
from runs.core.notifications import http as webhook_http
from runs.core.notifications.payloads import Facts, email_text, signed_headers, webhook_body
from runs.core.safety import Refused
from runs.core.safety.addresses import Endpoint, Unresolvable, endpoint_of, forbidden_reason, resolve
from runs.core.safety.allowlist import AllowRule
from runs.models import HTTP_URL, NotificationChannel, NotificationDelivery, Run, Team
from runs.selectors.allowlist import allowlist_rules
from runs.services import dispatch

log = logging.getLogger(__name__)

EVENTS = NotificationChannel.Event
DELIVERED, RETRY, FAILED, SKIPPED = "delivered", "retry", "failed", "skipped"
MAX_RECIPIENTS = 20
LOG_ATTEMPTS_KEPT = 20


class NotifyError(ValueError):
    """A hook cannot be saved or used; the message is meant for the user, ``field`` names the
    input it is about (None: the whole hook)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# -- reads --------------------------------------------------------------------------------------
LOG_ROWS = 25


def team_hooks(*, team: Team) -> list[NotificationChannel]:
    return list(NotificationChannel.objects.filter(team=team))


def team_deliveries(
    *, team: Team, channel: NotificationChannel | None = None, limit: int = LOG_ROWS
) -> list[NotificationDelivery]:
    """The newest deliveries of the team (or of one of its hooks), with hook and run, one query."""
    deliveries = NotificationDelivery.objects.filter(team=team).select_related("channel", "run")
    if channel is not None:
        deliveries = deliveries.filter(channel=channel)
    return list(deliveries[:limit])


# -- the address rules for webhook URLs ---------------------------------------------------------
def webhook_address_check(
    *, url: str, rules: list[AllowRule] | None = None, resolver: Any = None
) -> tuple[Endpoint, str]:
    """Resolve the URL's host and check every address; the one address to connect to.

    Raises :class:`Refused` with a message for the user (``Unresolvable`` when the name does
    not resolve)."""
    endpoint = endpoint_of(url)
    addresses = resolve(endpoint.host, endpoint.port, resolver=resolver)
    rules = allowlist_rules() if rules is None else rules
    for address in addresses:
        ip = ipaddress.ip_address(address)
        if any(rule.allows(host=endpoint.host, port=endpoint.port, address=ip) for rule in rules):
            continue
        reason = forbidden_reason(ip)
        if reason is not None:
            shown = endpoint.host if endpoint.host == address else f"{endpoint.host} resolves to {address},"
            raise Refused(
                f"{shown} {reason}. ScaleTest sends webhooks only to public addresses; to send them "
                f"there, an administrator adds {address}:{endpoint.port} to the allowlist "
                "(SCALETEST_ALLOWLIST, or Allowed networks in the Django admin)."
            )
    return endpoint, addresses[0]


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    if not url:
        raise NotifyError("A webhook needs a URL (http:// or https://).", field="url")
    if len(url) > 1000:
        raise NotifyError("A webhook URL has at most 1000 characters.", field="url")
    try:
        HTTP_URL(url)
    except ValidationError:
        raise NotifyError("Enter an http:// or https:// URL for the webhook.", field="url") from None
    try:
        webhook_address_check(url=url)
    except Unresolvable:
        pass  # may resolve only where the workers run; every attempt checks again
    except Refused as exc:
        raise NotifyError(str(exc), field="url") from None
    return url


def _clean_recipients(text: str) -> str:
    recipients = [r for r in (p.strip() for p in (text or "").replace(",", "\n").splitlines()) if r]
    if not recipients:
        raise NotifyError("Give at least one e-mail address (one a line).", field="recipients")
    if len(recipients) > MAX_RECIPIENTS:
        raise NotifyError(f"At most {MAX_RECIPIENTS} addresses per hook.", field="recipients")
    for address in recipients:
        try:
            validate_email(address)
        except ValidationError:
            raise NotifyError(f"“{address}” is not an e-mail address.", field="recipients") from None
    return "\n".join(recipients)


def _clean_events(events: Iterable[str]) -> list[str]:
    chosen = [e for e in EVENTS.values if e in set(events)]
    unknown = set(events) - set(EVENTS.values)
    if unknown:
        raise NotifyError(f"Unknown event(s): {', '.join(sorted(unknown))}.", field="events")
    if not chosen:
        raise NotifyError("Choose at least one event to be notified about.", field="events")
    return chosen


def _clean(*, name: str, kind: str, url: str, recipients: str, events: Iterable[str]) -> dict[str, Any]:
    name = " ".join((name or "").split())
    if not name:
        raise NotifyError("A hook needs a name.", field="name")
    if len(name) > 200:
        raise NotifyError("A hook name has at most 200 characters.", field="name")
    if kind not in NotificationChannel.Kind.values:
        raise NotifyError(f"Unknown kind “{kind}”; choose webhook, slack, teams or email.", field="kind")
    if kind == NotificationChannel.Kind.EMAIL:
        return {
            "name": name,
            "kind": kind,
            "url": "",
            "recipients": _clean_recipients(recipients),
            "events": _clean_events(events),
        }
    return {
        "name": name,
        "kind": kind,
        "url": _clean_url(url),
        "recipients": "",
        "events": _clean_events(events),
    }


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)  # 256 random bits


def channel_create(
    *,
    team: Team,
    user: Any,
    name: str,
    kind: str,
    url: str = "",
    recipients: str = "",
    events: Iterable[str],
    active: bool = True,
) -> NotificationChannel:
    fields = _clean(name=name, kind=kind, url=url, recipients=recipients, events=list(events))
    return NotificationChannel.objects.create(
        team=team,
        secret=new_secret(),
        active=active,
        created_by=user if getattr(user, "is_authenticated", False) else None,
        **fields,
    )


def channel_update(
    *,
    channel: NotificationChannel,
    name: str,
    kind: str,
    url: str = "",
    recipients: str = "",
    events: Iterable[str],
    active: bool,
) -> NotificationChannel:
    fields = _clean(name=name, kind=kind, url=url, recipients=recipients, events=list(events))
    for key, value in fields.items():
        setattr(channel, key, value)
    channel.active = active
    channel.save()
    return channel


def channel_rotate_secret(*, channel: NotificationChannel) -> NotificationChannel:
    channel.secret = new_secret()
    channel.save(update_fields=["secret", "updated_at"])
    return channel


def channel_delete(*, channel: NotificationChannel) -> None:
    channel.delete()


# -- what an ended run raises -------------------------------------------------------------------
def run_url(run: Run) -> str:
    return f"{settings.SCALETEST_BASE_URL}{run.get_absolute_url()}"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def run_facts(*, run: Run, event: str, regression: dict[str, Any] | None = None) -> Facts:
    failed = [
        {
            "label": r.get("label", ""),
            "observed": thresholds.format_value(str(r.get("metric", "")), r.get("observed")),
            "note": r.get("note", ""),
        }
        for r in (run.threshold_results or [])
        if r.get("verdict") != thresholds.PASSED
    ]
    return Facts(
        event=event,
        team=run.team.name,
        run_id=run.pk,
        run_url=run_url(run),
        plan=run.plan_name,
        status=run.status,
        started_at=_iso(run.started_at),
        finished_at=_iso(run.finished_at),
        duration_seconds=run.duration_seconds,
        requests=run.total_requests,
        failures=run.total_failures,
        p50_ms=run.p50_ms,
        p95_ms=run.p95_ms,
        p99_ms=run.p99_ms,
        passed=run.passed,
        error_message=run.error_message,
        failed_thresholds=failed if event == EVENTS.THRESHOLD_FAILED else [],
        regression=regression,
        version=run.version,
    )


def _regression(run: Run) -> dict[str, Any] | None:
    """The baseline verdict when it says "slower", else None (no baseline, no analysis, faster…)."""
    from runs.selectors.analysis import run_baseline_verdict

    try:
        verdict = run_baseline_verdict(run=run)
    except Exception:  # noqa: BLE001 - a broken analysis must not stop the other notifications
        log.exception("run %s: the baseline verdict failed; no regression notification", run.pk)
        return None
    if verdict is None or verdict.comparison.verdict != "slower":
        return None
    c = verdict.comparison
    return {
        "baseline_run_id": verdict.baseline_id,
        "baseline_url": f"{settings.SCALETEST_BASE_URL}{reverse('runs-detail', args=[verdict.baseline_id])}",
        "verdict": c.verdict,
        "shift_percent": round(100 * c.hl_shift_relative, 2),
        "p_value": c.p_value_adjusted if c.p_value_adjusted is not None else c.p_value,
    }


def run_events(*, run: Run, wanted: set[str]) -> list[Facts]:
    """The events ``run`` raises among ``wanted`` (the regression check only when wanted)."""
    events = []
    if run.status == Run.Status.FINISHED and EVENTS.FINISHED in wanted:
        events.append(run_facts(run=run, event=EVENTS.FINISHED))
    if run.status == Run.Status.FAILED and EVENTS.FAILED in wanted:
        events.append(run_facts(run=run, event=EVENTS.FAILED))
    if run.passed is False and EVENTS.THRESHOLD_FAILED in wanted:
        events.append(run_facts(run=run, event=EVENTS.THRESHOLD_FAILED))
    if run.status == Run.Status.FINISHED and EVENTS.REGRESSION in wanted:
        regression = _regression(run)
        if regression is not None:
            events.append(run_facts(run=run, event=EVENTS.REGRESSION, regression=regression))
    return events


def notifications_run_ended(*, run_id: int) -> None:
    """Ask a worker to notify about ``run_id`` once its end is committed. Never raises: a
    broker that is down must not stop a run from ending."""

    def send() -> None:
        try:
            dispatch.notify_run_ended_send(run_id)
        except Exception:  # noqa: BLE001
            log.exception("run %s: could not enqueue its notifications", run_id)

    transaction.on_commit(send, robust=True)


def _enqueue(delivery_ids: list[int]) -> None:
    def send() -> None:
        for delivery_id in delivery_ids:
            try:
                dispatch.deliver_notification_send(delivery_id)
            except Exception:  # noqa: BLE001
                log.exception("notification %s: could not enqueue", delivery_id)

    if delivery_ids:
        transaction.on_commit(send, robust=True)


def run_deliveries_create(*, run_id: int) -> list[int]:
    """Deliveries for the ended run's events to every active hook of its team that wants them;
    returns the ids created now (enqueued once committed)."""
    run = Run.objects.select_related("team", "plan").filter(pk=run_id).first()
    if run is None or run.is_active:
        return []
    channels = list(NotificationChannel.objects.filter(team_id=run.team_id, active=True))
    if not channels:
        return []
    wanted = {event for channel in channels for event in channel.events}
    created = []
    for facts in run_events(run=run, wanted=wanted):
        for channel in channels:
            if facts.event not in channel.events:
                continue
            try:
                with transaction.atomic():
                    delivery = NotificationDelivery.objects.create(
                        channel=channel,
                        team_id=run.team_id,
                        run=run,
                        event=facts.event,
                        facts=facts.to_dict(),
                    )
            except IntegrityError:
                continue  # made by an earlier delivery of this task
            created.append(delivery.pk)
    _enqueue(created)
    return created


def delivery_test(*, channel: NotificationChannel, user: Any) -> NotificationDelivery:
    """A test delivery to ``channel`` (active or not), sent by a worker like any other."""
    facts = Facts(event=NotificationDelivery.TEST_EVENT, team=channel.team.name)
    delivery = NotificationDelivery.objects.create(
        channel=channel,
        team_id=channel.team_id,
        event=NotificationDelivery.TEST_EVENT,
        facts=facts.to_dict(),
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    _enqueue([delivery.pk])
    return delivery


# -- one attempt --------------------------------------------------------------------------------
def _send_webhook(
    channel: NotificationChannel, delivery: NotificationDelivery, facts: Facts
) -> webhook_http.Outcome:
    started = time.monotonic()
    try:
        endpoint, address = webhook_address_check(url=channel.url)
    except Unresolvable as exc:
        return webhook_http.Outcome(None, str(exc), (time.monotonic() - started) * 1000, retryable=True)
    except Refused as exc:
        return webhook_http.Outcome(None, str(exc), (time.monotonic() - started) * 1000, retryable=False)
    body = webhook_body(channel.kind, facts, delivery_id=delivery.pk)
    headers = signed_headers(
        channel.secret, int(time.time()), body, event=facts.event, delivery_id=delivery.pk
    )
    return webhook_http.post(
        endpoint=endpoint,
        address=address,
        url=channel.url,
        body=body,
        headers=headers,
        timeout=float(settings.SCALETEST_NOTIFY_TIMEOUT_SECONDS),
    )


def _send_email(channel: NotificationChannel, facts: Facts) -> webhook_http.Outcome:
    started = time.monotonic()
    subject, body = email_text(facts)
    try:
        EmailMessage(subject=subject, body=body, to=channel.recipient_list).send(fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - SMTP and socket errors alike; tried again
        return webhook_http.Outcome(
            None, f"{type(exc).__name__}: {exc}", (time.monotonic() - started) * 1000, True
        )
    return webhook_http.Outcome(None, "", (time.monotonic() - started) * 1000, retryable=False)


def delivery_attempt(*, delivery_id: int, final: bool) -> str:
    """Send ``delivery_id`` once; DELIVERED, RETRY (try again later), FAILED, or SKIPPED (another
    attempt holds it, it is done, or it is gone). ``final``: no retry follows a failure."""
    claimed = NotificationDelivery.objects.filter(
        pk=delivery_id, status__in=[NotificationDelivery.Status.PENDING, NotificationDelivery.Status.RETRYING]
    ).update(
        status=NotificationDelivery.Status.SENDING, attempts=F("attempts") + 1, sending_at=timezone.now()
    )
    if claimed != 1:
        return SKIPPED
    delivery = NotificationDelivery.objects.select_related("channel").get(pk=delivery_id)
    # A delivery sent again by the recovery below starts a new task: its attempts still count.
    final = final or delivery.attempts >= settings.SCALETEST_NOTIFY_MAX_ATTEMPTS
    channel = delivery.channel
    facts = Facts.from_dict(delivery.facts)
    if channel.is_webhook:
        outcome = _send_webhook(channel, delivery, facts)
    else:
        outcome = _send_email(channel, facts)
    now = timezone.now()
    entry = {
        "at": now.isoformat(),
        "status_code": outcome.status_code,
        "error": outcome.error[:500],
        "ms": round(outcome.elapsed_ms, 1),
    }
    if outcome.delivered:
        status, result = NotificationDelivery.Status.DELIVERED, DELIVERED
    elif outcome.retryable and not final:
        status, result = NotificationDelivery.Status.RETRYING, RETRY
    else:
        status, result = NotificationDelivery.Status.FAILED, FAILED
    NotificationDelivery.objects.filter(pk=delivery_id).update(
        status=status,
        attempt_log=[*(delivery.attempt_log or [])[-(LOG_ATTEMPTS_KEPT - 1) :], entry],
        last_status_code=outcome.status_code,
        last_error=outcome.error[:2000],
        delivered_at=now if outcome.delivered else None,
    )
    return result


# -- recovery -----------------------------------------------------------------------------------
def sending_stale_after() -> float:
    """Seconds after which a "sending" attempt cannot still be running: the task's hard time
    limit (``runs.tasks.deliver_notification``) and a margin."""
    return float(settings.SCALETEST_NOTIFY_TIMEOUT_SECONDS * 3 + 60 + 30)


STALE_SENDING_ERROR = (
    "The worker stopped during this attempt (killed or restarted); nothing is known of its outcome."
)


def deliveries_recover_stale(*, now: Any = None) -> tuple[list[int], list[int]]:
    """Deliveries no attempt will ever finish: "sending" for longer than any attempt can take
    (its worker died mid-send) are tried again, or marked failed when their attempts are used
    up; "pending" ones that old (their message was lost) are sent again. Returns (sent again,
    failed); so are "waiting to retry" ones whose retry is over an hour late (a lost message).
    The periodic reaper calls it; every change is conditional on the row still being
    stale, and a duplicate message finds the row taken, so a race sends nothing twice."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=sending_stale_after())
    stale = Q(status=NotificationDelivery.Status.SENDING) & (
        Q(sending_at__lt=cutoff) | Q(sending_at__isnull=True, created_at__lt=cutoff)
    )
    again: list[int] = []
    failed: list[int] = []
    rows = NotificationDelivery.objects.filter(stale).values_list("pk", "attempts", "attempt_log")
    for delivery_id, attempts, log_entries in rows:
        entry = {"at": now.isoformat(), "status_code": None, "error": STALE_SENDING_ERROR, "ms": None}
        used_up = attempts >= settings.SCALETEST_NOTIFY_MAX_ATTEMPTS
        changed = NotificationDelivery.objects.filter(stale, pk=delivery_id).update(
            status=NotificationDelivery.Status.FAILED if used_up else NotificationDelivery.Status.RETRYING,
            attempt_log=[*(log_entries or [])[-(LOG_ATTEMPTS_KEPT - 1) :], entry],
            last_status_code=None,
            last_error=STALE_SENDING_ERROR,
        )
        if changed:
            (failed if used_up else again).append(delivery_id)
    lost = NotificationDelivery.objects.filter(
        status=NotificationDelivery.Status.PENDING, created_at__lt=cutoff
    )
    again.extend(lost.values_list("pk", flat=True))
    # A retry waits at most an hour (the task's retry_backoff_max): one older lost its message.
    overdue = now - dt.timedelta(seconds=3600 + sending_stale_after())
    again.extend(
        NotificationDelivery.objects.filter(
            status=NotificationDelivery.Status.RETRYING, sending_at__lt=overdue
        )
        .exclude(pk__in=again)
        .values_list("pk", flat=True)
    )
    _enqueue(again)  # once committed; a broker that is down leaves them for the next sweep
    if again or failed:
        log.warning("notifications: %d stale deliveries sent again, %d failed", len(again), len(failed))
    return again, failed
