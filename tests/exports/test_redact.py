"""Secrets out of snapshots, without a database."""

from __future__ import annotations

import json

from runs.core.exports.redact import REDACTED, redact_url, snapshot_redacted


def snapshot() -> dict:
    return {
        "target": {
            "name": "t",
            "base_url": "https://svc:pw-in-url@api.example.com/v1?api_key=k1&x=1",
            "auth_type": "basic",
            "auth_username": "svc",
            "auth_password": "pw-1",
            "auth_token": "",
            "headers": {
                "Authorization": "Bearer abc",
                "Cookie": "s=1",
                "X-Api-Key": "k2",
                "Proxy-Authorization": "p",
                "X-CSRFToken": "c",
                "Accept": "text/html",
                "User-Agent": "ua",
            },
        },
        "scenario": {
            "steps": [
                {
                    "path": "/a?token=t1&page=2",
                    "query": {"signature": "s1", "q": "shoes"},
                    "headers": {"x-session-id": "sid", "Content-Type": "application/json"},
                    "body_type": "json",
                    "body": '{"user": "u", "password": "pw-2", "nested": [{"client_secret": "cs"}]}',
                },
                {"path": "/b", "query": {}, "headers": {}, "body_type": "text", "body": "plain"},
            ]
        },
        "profile": {"kind": "constant", "params": {"users": 1, "duration": 1}},
    }


def test_credentials_are_replaced_and_everything_else_kept() -> None:
    original = snapshot()
    out = snapshot_redacted(original)
    text = json.dumps(out)
    for secret in (
        "pw-in-url",
        "k1",
        "pw-1",
        "Bearer abc",
        "s=1",
        "k2",
        '"p"',
        '"c"',
        "t1",
        "s1",
        "sid",
        "pw-2",
        '"cs"',
    ):
        assert secret not in text, secret
    target = out["target"]
    assert target["auth_password"] == REDACTED and target["auth_token"] == ""  # empty stays empty
    assert target["auth_username"] == "svc"
    assert target["headers"]["Authorization"] == REDACTED
    assert target["headers"]["Accept"] == "text/html" and target["headers"]["User-Agent"] == "ua"
    assert target["base_url"].startswith("https://svc:") and "api.example.com/v1" in target["base_url"]
    assert "x=1" in target["base_url"]
    step = out["scenario"]["steps"][0]
    assert step["query"] == {"signature": REDACTED, "q": "shoes"}
    assert step["headers"]["Content-Type"] == "application/json"
    assert "page=2" in step["path"]
    assert json.loads(step["body"])["user"] == "u"
    assert out["scenario"]["steps"][1]["path"] == "/b" and out["scenario"]["steps"][1]["body"] == "plain"
    assert original == snapshot()  # the input is not modified


def test_urls_without_secrets_are_unchanged_byte_for_byte() -> None:
    for url in ("http://127.0.0.1:8089", "/a?", "/search?q=a+b&page=2", "https://user@host/x"):
        assert redact_url(url) == url


def test_empty_or_odd_snapshots_do_not_break_it() -> None:
    assert snapshot_redacted(None) == {}
    assert snapshot_redacted({"target": None, "scenario": {"steps": [None, "x"]}}) == {
        "target": None,
        "scenario": {"steps": [None, "x"]},
    }
