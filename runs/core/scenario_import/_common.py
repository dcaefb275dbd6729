"""Steps, results and helpers the parsers share. Pure: no Django, no I/O."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
MAX_STEPS = 100  # what the scenario page takes (StepFormSet.max_num)
MAX_NAME = 200
MAX_PATH = 1000
FORMATS = ("curl", "har", "openapi")

# The same names runs.core.exports.redact treats as credentials (a test keeps the two equal); this
# module stays free of Django, which that package imports.
SECRET_NAME = re.compile(
    r"auth|token|secret|passw|pwd|passphrase|cookie|session|api[-_ ]?key|apikey|(^|[-_ ])key$"
    r"|signature|credential|private|csrf|xsrf|jwt|bearer|sig$|access[-_ ]?key|security",
    re.IGNORECASE,
)
# Headers the engine or the HTTP client set themselves; copying them from a capture breaks
# requests (a stale Content-Length) or pins what the client negotiates.
DROPPED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "accept-encoding",
        "transfer-encoding",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "proxy-connection",
        "expect",
    }
)
STATIC_EXTENSIONS = (
    ".js", ".mjs", ".css", ".map", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".avif", ".ico",
    ".woff", ".woff2", ".ttf", ".otf", ".eot", ".mp4", ".webm", ".mp3",
)  # fmt: skip
STATIC_MIME = re.compile(r"^(image|font|audio|video)/|^text/css|javascript", re.IGNORECASE)


class ScenarioImportError(ValueError):
    """The input cannot be imported; the message is meant for the user."""


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def escape_vars(text: str) -> str:
    """``text`` with every literal ``${`` written ``$${`` (a step reads ``${name}`` as a variable)."""
    return text.replace("${", "$${")


@dataclass(frozen=True)
class ImportedStep:
    name: str
    method: str
    path: str
    query: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body_type: str = "none"
    body: str = ""
    # The full URL it was made from (shown in the preview; not saved).
    url: str = ""

    @property
    def secret_names(self) -> list[str]:
        """Header names, then query parameter names, whose values look like credentials."""
        return [n for n in self.headers if is_secret_name(n)] + [
            f"?{n}" for n in self.query if is_secret_name(n)
        ]

    def without(self, names: Iterable[str]) -> ImportedStep:
        """This step without the headers (``Name``) and query parameters (``?name``) ``names``."""
        drop = set(names)
        return replace(
            self,
            headers={k: v for k, v in self.headers.items() if k not in drop},
            query={k: v for k, v in self.query.items() if f"?{k}" not in drop},
        )

    def to_step(self) -> dict[str, Any]:
        """The fields of a ``ScenarioStep``, variables escaped."""
        return {
            "name": self.name[:MAX_NAME],
            "method": self.method,
            "path": escape_vars(self.path),
            "query": {
                k: ([escape_vars(x) for x in v] if isinstance(v, list) else escape_vars(v))
                for k, v in self.query.items()
            },
            "headers": {k: escape_vars(v) for k, v in self.headers.items()},
            "body_type": self.body_type,
            "body": escape_vars(self.body) if self.body_type != "none" else "",
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.to_step_raw(), "url": self.url, "secret_names": self.secret_names}

    def to_step_raw(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "method": self.method,
            "path": self.path,
            "query": dict(self.query),
            "headers": dict(self.headers),
            "body_type": self.body_type,
            "body": self.body,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ImportedStep:
        """A step the preview sent back; checked like any input (the form validates it again)."""
        method = str(data.get("method") or "").upper()
        if method not in METHODS:
            raise ScenarioImportError(f"Unknown method {method!r}.")
        query, headers = data.get("query") or {}, data.get("headers") or {}
        if not isinstance(query, dict) or not isinstance(headers, dict):
            raise ScenarioImportError("A step's query and headers must be objects.")
        body_type = str(data.get("body_type") or "none")
        if body_type not in ("none", "json", "text"):
            raise ScenarioImportError(f"Unknown body type {body_type!r}.")
        return cls(
            name=str(data.get("name") or ""),
            method=method,
            path=str(data.get("path") or "/"),
            query={str(k): (v if isinstance(v, list) else str(v)) for k, v in query.items()},
            headers={str(k): str(v) for k, v in headers.items()},
            body_type=body_type,
            body=str(data.get("body") or ""),
            url=str(data.get("url") or ""),
        )


@dataclass(frozen=True)
class ImportResult:
    format: str
    steps: list[ImportedStep]
    base_url: str  # scheme://host[:port][/prefix] the paths are relative to ("" when unknown)
    warnings: list[str] = field(default_factory=list)

    @property
    def has_secrets(self) -> bool:
        return any(step.secret_names for step in self.steps)


# -- shared helpers --------------------------------------------------------------------------------
def split_url(url: str, *, where: str) -> tuple[str, str, dict[str, Any]]:
    """(origin, path, query) of an absolute http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ScenarioImportError(f"{where}: the URL {url[:200]!r} is not valid ({exc}).") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ScenarioImportError(f"{where}: {url[:200]!r} is not an http:// or https:// URL.")
    return f"{parts.scheme.lower()}://{parts.netloc}", parts.path or "/", query_dict(parts.query)


def query_dict(query: str) -> dict[str, Any]:
    """Query parameters; a repeated name becomes a list of its values, in order."""
    out: dict[str, Any] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in out:
            out[name] = [*out[name], value] if isinstance(out[name], list) else [out[name], value]
        else:
            out[name] = value
    return out


def guess_body_type(body: str, content_type: str) -> str:
    if not body:
        return "none"
    if "json" in content_type.lower():
        return "json"
    if not content_type and body.lstrip()[:1] in ("{", "["):
        try:
            json.loads(body)
        except ValueError:
            return "text"
        return "json"
    return "text"


def header_get(headers: Mapping[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "")


def clean_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers worth keeping, in order; HTTP/2 pseudo-headers and client-managed ones dropped,
    a repeated name joined as HTTP allows (``, `` and ``; `` for Cookie)."""
    out: dict[str, str] = {}
    for name, value in headers:
        name = name.strip()
        if not name or name.startswith(":") or name.lower() in DROPPED_HEADERS:
            continue
        existing = next((k for k in out if k.lower() == name.lower()), None)
        if existing is None:
            out[name] = value
        else:
            out[existing] = f"{out[existing]}{'; ' if name.lower() == 'cookie' else ', '}{value}"
    return out


def strip_prefix(path: str, prefix: str) -> str:
    if prefix and prefix != "/" and (path == prefix or path.startswith(prefix.rstrip("/") + "/")):
        return path[len(prefix.rstrip("/")) :] or "/"
    return path


def body_allowed(method: str, body: str, where: str, warnings: list[str]) -> str:
    """``body``, or nothing for GET and HEAD (a step of those sends no body)."""
    if body and method in ("GET", "HEAD"):
        warnings.append(f"{where}: left out the body of a {method} request (steps of {method} send none).")
        return ""
    return body


def step_name(method: str, path: str) -> str:
    return f"{method} {path}"[:MAX_NAME]


def check_path(path: str, *, where: str) -> str:
    if len(path) > MAX_PATH:
        raise ScenarioImportError(f"{where}: the path is longer than {MAX_PATH} characters.")
    return path if path.startswith("/") else "/" + path


def load_json(text: str, *, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioImportError(
            f"The {what} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from None
