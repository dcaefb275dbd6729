"""Secrets out of a run's snapshot before it leaves the server (JSON export, HTML report).

Pure module. A snapshot (``runs.services.runs.plan_snapshot``) holds the target's password and
bearer token, and every header and query parameter the plan sends: any of those may be a
credential. Values are replaced by :data:`REDACTED`; names stay, so a reader still sees that,
say, an ``Authorization`` header was sent.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "[redacted]"

# Names of headers, query parameters and JSON keys whose values are credentials. Broad on
# purpose: redacting a harmless value costs nothing, leaking a key costs a lot.
SECRET_NAME = re.compile(
    r"auth|token|secret|passw|pwd|passphrase|cookie|session|api[-_ ]?key|apikey|(^|[-_ ])key$"
    r"|signature|credential|private|csrf|xsrf|jwt|bearer|sig$|access[-_ ]?key|security",
    re.IGNORECASE,
)


def is_secret_name(name: Any) -> bool:
    return bool(SECRET_NAME.search(str(name)))


def redact_mapping(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """Headers or query parameters with the values of credential-like names redacted."""
    return {
        str(k): (REDACTED if is_secret_name(k) and v not in ("", None) else v)
        for k, v in (values or {}).items()
    }


def redact_url(url: str) -> str:
    """``url`` without a password in its user info or credential-like query parameters
    (unchanged, byte for byte, when it holds neither)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc, query = parts.netloc, parts.query
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            netloc = f"{userinfo.split(':', 1)[0]}:{REDACTED}@{host}"
    pairs = parse_qsl(query, keep_blank_values=True) if query else []
    if any(is_secret_name(k) and v for k, v in pairs):
        query = urlencode([(k, REDACTED if is_secret_name(k) and v else v) for k, v in pairs], safe="[]")
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _redact_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (REDACTED if is_secret_name(k) and v not in ("", None) else _redact_json(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact_json(v) for v in value]
    return value


def redact_body(body_type: str, body: str) -> str:
    """A JSON body with the values of credential-like keys redacted; other bodies as they are
    (free text cannot be searched for secrets reliably)."""
    if body_type != "json" or not body:
        return body
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    redacted = _redact_json(parsed)
    return body if redacted == parsed else json.dumps(redacted)


def snapshot_redacted(snapshot: Mapping[str, Any] | None) -> dict[str, Any]:
    """A deep copy of a run snapshot safe to hand out: no password, token or credential."""
    out: dict[str, Any] = copy.deepcopy(dict(snapshot or {}))
    target = out.get("target")
    if isinstance(target, dict):
        for key in ("auth_password", "auth_token"):
            if target.get(key):
                target[key] = REDACTED
        target["headers"] = redact_mapping(target.get("headers"))
        if isinstance(target.get("base_url"), str):
            target["base_url"] = redact_url(target["base_url"])
    for source in out.get("metric_sources") or []:
        if not isinstance(source, dict):
            continue
        for key in ("auth_password", "auth_token"):
            if source.get(key):
                source[key] = REDACTED
        if isinstance(source.get("url"), str):
            source["url"] = redact_url(source["url"])
    scenario = out.get("scenario")
    if isinstance(scenario, dict):
        for step in scenario.get("steps") or []:
            if not isinstance(step, dict):
                continue
            step["headers"] = redact_mapping(step.get("headers"))
            step["query"] = redact_mapping(step.get("query"))
            if isinstance(step.get("path"), str):
                step["path"] = redact_url(step["path"])
            if isinstance(step.get("body"), str):
                step["body"] = redact_body(str(step.get("body_type", "")), step["body"])
    return out
