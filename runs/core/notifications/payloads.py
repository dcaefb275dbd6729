"""What a notification says and how it is signed. Pure: no Django, no I/O.

Signature (every webhook kind): the receiver gets

* ``X-ScaleTest-Timestamp: <unix seconds>``
* ``X-ScaleTest-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" with the hook's secret>``
* ``X-ScaleTest-Event`` and ``X-ScaleTest-Delivery`` (the delivery id; the same on every retry)

and should recompute the HMAC over the raw body, compare in constant time, and refuse a
timestamp older than a few minutes (a replayed request). ``signature_check`` does exactly that.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

SIGNATURE_HEADER = "X-ScaleTest-Signature"
TIMESTAMP_HEADER = "X-ScaleTest-Timestamp"
EVENT_HEADER = "X-ScaleTest-Event"
DELIVERY_HEADER = "X-ScaleTest-Delivery"
DEFAULT_TOLERANCE_SECONDS = 300

EVENT_TITLES = {
    "run.finished": "finished",
    "run.failed": "failed",
    "run.threshold_failed": "failed its thresholds",
    "run.regression": "is slower than its baseline",
    "test": "test delivery",
}
KINDS = ("webhook", "slack", "teams")


@dataclass(frozen=True)
class Facts:
    """Everything one notification tells, as plain values (stored on the delivery row)."""

    event: str
    team: str
    run_id: int | None = None
    run_url: str = ""
    plan: str = ""
    status: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    duration_seconds: float | None = None
    requests: int = 0
    failures: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    passed: bool | None = None
    error_message: str = ""
    # Failed thresholds: [{"label": "p95 < 100 ms", "observed": "…"}]
    failed_thresholds: list[dict[str, Any]] = field(default_factory=list)
    # {"baseline_run_id": int, "baseline_url": str, "verdict": str, "shift_percent": float, "p_value": float}
    regression: dict[str, Any] | None = None
    version: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Facts:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    @property
    def headline(self) -> str:
        what = EVENT_TITLES.get(self.event, self.event)
        if self.event == "test":
            return f"ScaleTest: test delivery for team “{self.team}”"
        return f"ScaleTest: run #{self.run_id} of “{self.plan}” {what}"

    def lines(self) -> list[str]:
        """The body as short plain-text lines (e-mail, Slack and Teams share them)."""
        if self.event == "test":
            return ["This is a test delivery: the hook is set up and reachable."]
        out = [f"Status: {self.status}"]
        if self.version:
            out.append(f"Version: {self.version}")
        if self.duration_seconds is not None:
            out.append(f"Duration: {self.duration_seconds:.0f} s")
        out.append(f"Requests: {self.requests:,} ({self.failures:,} failed, {self.error_rate:.2%})")
        if self.p95_ms is not None:
            out.append(
                "Latency: "
                + ", ".join(
                    f"{name} {value:.1f} ms"
                    for name, value in (("p50", self.p50_ms), ("p95", self.p95_ms), ("p99", self.p99_ms))
                    if value is not None
                )
            )
        for item in self.failed_thresholds:
            out.append(f"Threshold failed: {item.get('label', '')} (observed {item.get('observed', '–')})")
        if self.regression:
            shift = self.regression.get("shift_percent")
            shown = f"{shift:+.1f} %" if isinstance(shift, (int, float)) else "–"
            out.append(
                f"Against baseline run #{self.regression.get('baseline_run_id')}: "
                f"{self.regression.get('verdict')} (p95 shift {shown})"
            )
        if self.error_message:
            out.append(f"Error: {self.error_message[:500]}")
        return out


def generic_body(facts: Facts, *, delivery_id: int) -> dict[str, Any]:
    """The generic JSON webhook: stable field names, documented in docs/notifications.md."""
    return {"event": facts.event, "delivery_id": delivery_id, "summary": facts.headline, **facts.to_dict()}


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn reads <…> as links and mentions: user text must not make any.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(facts: Facts) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``text`` (notifications, old clients) plus blocks."""
    headline = _slack_escape(facts.headline)
    details = "\n".join(_slack_escape(line) for line in facts.lines())
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{headline}*\n{details}"}},
    ]
    if facts.run_url:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open the run"},
                        "url": facts.run_url,
                    }
                ],
            }
        )
    return {"text": headline, "blocks": blocks}


def teams_body(facts: Facts) -> dict[str, Any]:
    """A Microsoft Teams message with an Adaptive Card, as Teams workflow webhooks take it."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": facts.headline, "weight": "Bolder", "size": "Medium", "wrap": True}
    ]
    body += [{"type": "TextBlock", "text": line, "wrap": True, "spacing": "None"} for line in facts.lines()]
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if facts.run_url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open the run", "url": facts.run_url}]
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def webhook_body(kind: str, facts: Facts, *, delivery_id: int) -> bytes:
    """The exact bytes POSTed (the signature covers these bytes)."""
    if kind == "slack":
        payload = slack_body(facts)
    elif kind == "teams":
        payload = teams_body(facts)
    elif kind == "webhook":
        payload = generic_body(facts, delivery_id=delivery_id)
    else:
        raise ValueError(f"Unknown webhook kind {kind!r}; expected one of {', '.join(KINDS)}.")
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def email_text(facts: Facts) -> tuple[str, str]:
    """Subject and plain-text body of the e-mail."""
    body = "\n".join([*facts.lines(), "", facts.run_url] if facts.run_url else facts.lines())
    return facts.headline, body + "\n"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The value of ``X-ScaleTest-Signature`` for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode("utf-8"), str(int(timestamp)).encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(
    secret: str, timestamp: int, body: bytes, *, event: str, delivery_id: int
) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "ScaleTest-Webhook/1",
        TIMESTAMP_HEADER: str(int(timestamp)),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        EVENT_HEADER: event,
        DELIVERY_HEADER: str(delivery_id),
    }


def signature_check(
    secret: str,
    *,
    body: bytes,
    timestamp_header: str | None,
    signature_header: str | None,
    now: float,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> str | None:
    """What a receiver checks: None when the request is genuine and fresh, else why not."""
    if not timestamp_header or not timestamp_header.strip().isdigit():
        return f"Missing or malformed {TIMESTAMP_HEADER}."
    if not signature_header or not signature_header.startswith("sha256="):
        return f"Missing or malformed {SIGNATURE_HEADER} (expected sha256=<hex>)."
    timestamp = int(timestamp_header)
    if abs(now - timestamp) > tolerance_seconds:
        return f"The timestamp is more than {tolerance_seconds} s away from now (a replayed request?)."
    if not hmac.compare_digest(signature(secret, timestamp, body), signature_header.strip()):
        return "The signature does not match the body."
    return None
