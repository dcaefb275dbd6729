"""The notification bodies and their signature (pure: no database, no network)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from runs.core.notifications.payloads import (
    Facts,
    email_text,
    signature,
    signature_check,
    signed_headers,
    webhook_body,
)

SECRET = "whsec_test-secret"


def _facts(**kw: object) -> Facts:
    base: dict[str, object] = {
        "event": "run.threshold_failed",
        "team": "Alice's team",
        "run_id": 7,
        "run_url": "http://scaletest.example/runs/7/",
        "plan": "Checkout <script>",
        "status": "finished",
        "duration_seconds": 60.0,
        "requests": 1200,
        "failures": 12,
        "p50_ms": 10.0,
        "p95_ms": 120.5,
        "p99_ms": 180.0,
        "passed": False,
        "failed_thresholds": [{"label": "p95 < 100 ms", "observed": "120.5 ms"}],
    }
    base.update(kw)
    return Facts(**base)  # type: ignore[arg-type]


def test_the_signature_is_the_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"a":1}'
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature(SECRET, 1700000000, body) == f"sha256={expected}"


def test_a_receiver_accepts_a_fresh_signed_body_and_refuses_tampering_and_replays() -> None:
    body = webhook_body("webhook", _facts(), delivery_id=3)
    headers = signed_headers(SECRET, 1700000000, body, event="run.threshold_failed", delivery_id=3)
    ts, sig = headers["X-ScaleTest-Timestamp"], headers["X-ScaleTest-Signature"]
    assert (
        signature_check(SECRET, body=body, timestamp_header=ts, signature_header=sig, now=1700000060) is None
    )
    tampered = body.replace(b"1200", b"1201")
    assert "does not match" in (
        signature_check(SECRET, body=tampered, timestamp_header=ts, signature_header=sig, now=1700000060)
        or ""
    )
    assert "does not match" in (
        signature_check("other", body=body, timestamp_header=ts, signature_header=sig, now=1700000060) or ""
    )
    # The same request a day later: a replay.
    assert "replayed" in (
        signature_check(SECRET, body=body, timestamp_header=ts, signature_header=sig, now=1700086400) or ""
    )
    assert "malformed" in (
        signature_check(SECRET, body=body, timestamp_header="soon", signature_header=sig, now=1700000000)
        or ""
    )
    assert "malformed" in (
        signature_check(SECRET, body=body, timestamp_header=ts, signature_header="md5=x", now=1700000000)
        or ""
    )


def test_the_generic_body_carries_the_facts_under_stable_names() -> None:
    data = json.loads(webhook_body("webhook", _facts(), delivery_id=3))
    assert data["event"] == "run.threshold_failed"
    assert data["delivery_id"] == 3
    assert data["run_id"] == 7 and data["plan"] == "Checkout <script>"
    assert data["failed_thresholds"] == [{"label": "p95 < 100 ms", "observed": "120.5 ms"}]
    assert data["summary"] == "ScaleTest: run #7 of “Checkout <script>” failed its thresholds"


def test_slack_text_escapes_user_text_so_it_cannot_make_links_or_mentions() -> None:
    data = json.loads(webhook_body("slack", _facts(plan="<!channel> <http://evil|x>"), delivery_id=1))
    text = data["blocks"][0]["text"]["text"]
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "<http://evil" not in data["text"]
    assert data["blocks"][1]["elements"][0]["url"] == "http://scaletest.example/runs/7/"
    assert "Threshold failed: p95 < 100 ms".replace("<", "&lt;") in text


def test_teams_gets_an_adaptive_card_message() -> None:
    data = json.loads(webhook_body("teams", _facts(), delivery_id=1))
    assert data["type"] == "message"
    (attachment,) = data["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    texts = [block["text"] for block in card["body"]]
    assert texts[0].startswith("ScaleTest: run #7")
    assert any("p95 120.5 ms" in t for t in texts)
    assert card["actions"][0]["url"] == "http://scaletest.example/runs/7/"


def test_regression_and_email_text() -> None:
    facts = _facts(
        event="run.regression",
        failed_thresholds=[],
        regression={"baseline_run_id": 5, "verdict": "slower", "shift_percent": 23.4, "p_value": 0.01},
    )
    subject, body = email_text(facts)
    assert subject == "ScaleTest: run #7 of “Checkout <script>” is slower than its baseline"
    assert "Against baseline run #5: slower (p95 shift +23.4 %)" in body
    assert body.rstrip().endswith("http://scaletest.example/runs/7/")


def test_an_unknown_kind_is_an_error() -> None:
    with pytest.raises(ValueError, match="Unknown webhook kind"):
        webhook_body("pager", _facts(), delivery_id=1)


def test_facts_round_trip_through_their_stored_dict() -> None:
    facts = _facts()
    assert Facts.from_dict({**facts.to_dict(), "unknown_later_field": 1}) == facts
