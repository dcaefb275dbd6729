"""Scenario steps from what users already have: a cURL command, a HAR file, an OpenAPI document.

Pure module: no Django, no I/O. Each parser turns text into an :class:`ImportResult`: steps
(method, path, query, headers, body) ready for ``ScenarioStep``, the base URL they were made
against, warnings about what was left out, and for each step the header and query names that
look like credentials (``secret_names``), so the preview can flag them and the view can leave
them out unless the user keeps them.

Every error is an :class:`ScenarioImportError` whose message says what is wrong and where.
Literal ``${`` in imported values is written ``$${``: scenario steps read ``${name}`` as a
variable (``runs.engine.scenario_vars``) and imported text must arrive as it was.
"""

from __future__ import annotations

import json
import re
import shlex
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
MAX_STEPS = 100  # what the scenario page takes (StepFormSet.max_num)
MAX_NAME = 200
MAX_PATH = 1000
FORMATS = ("curl", "har", "openapi")

# The same names runs.exports.redact treats as credentials (a test keeps the two equal); this
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
def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def _split_url(url: str, *, where: str) -> tuple[str, str, dict[str, Any]]:
    """(origin, path, query) of an absolute http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ScenarioImportError(f"{where}: the URL {url[:200]!r} is not valid ({exc}).") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ScenarioImportError(f"{where}: {url[:200]!r} is not an http:// or https:// URL.")
    return f"{parts.scheme.lower()}://{parts.netloc}", parts.path or "/", _query_dict(parts.query)


def _query_dict(query: str) -> dict[str, Any]:
    """Query parameters; a repeated name becomes a list of its values, in order."""
    out: dict[str, Any] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in out:
            out[name] = [*out[name], value] if isinstance(out[name], list) else [out[name], value]
        else:
            out[name] = value
    return out


def _body_type(body: str, content_type: str) -> str:
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


def _header_get(headers: Mapping[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "")


def _clean_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
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


def _strip_prefix(path: str, prefix: str) -> str:
    if prefix and prefix != "/" and (path == prefix or path.startswith(prefix.rstrip("/") + "/")):
        return path[len(prefix.rstrip("/")) :] or "/"
    return path


def _body_allowed(method: str, body: str, where: str, warnings: list[str]) -> str:
    """``body``, or nothing for GET and HEAD (a step of those sends no body)."""
    if body and method in ("GET", "HEAD"):
        warnings.append(f"{where}: left out the body of a {method} request (steps of {method} send none).")
        return ""
    return body


def _step_name(method: str, path: str) -> str:
    return f"{method} {path}"[:MAX_NAME]


def _check_path(path: str, *, where: str) -> str:
    if len(path) > MAX_PATH:
        raise ScenarioImportError(f"{where}: the path is longer than {MAX_PATH} characters.")
    return path if path.startswith("/") else "/" + path


# -- cURL ------------------------------------------------------------------------------------------
# Options that take a value; everything listed is read (and the value skipped when unused).
_CURL_VALUE_OPTIONS = {
    "-X": "request", "--request": "request",
    "-H": "header", "--header": "header",
    "-d": "data", "--data": "data", "--data-raw": "data-raw", "--data-binary": "data",
    "--data-ascii": "data", "--data-urlencode": "data-urlencode", "--json": "json",
    "-b": "cookie", "--cookie": "cookie",
    "-u": "user", "--user": "user",
    "-A": "user-agent", "--user-agent": "user-agent",
    "-e": "referer", "--referer": "referer",
    "--url": "url",
    "-F": "form", "--form": "form", "--form-string": "form",
    "-o": None, "--output": None, "-m": None, "--max-time": None, "--connect-timeout": None,
    "-x": None, "--proxy": None, "-w": None, "--write-out": None, "--retry": None,
    "--cacert": None, "--cert": None, "--key": None, "-E": None, "--resolve": None,
    "--max-redirs": None, "-c": None, "--cookie-jar": None, "-r": None, "--range": None,
    "-T": "upload", "--upload-file": "upload", "--oauth2-bearer": "bearer", "--limit-rate": None,
    "-K": "config", "--config": "config",
}  # fmt: skip
_CURL_FLAGS = {
    "-G": "get", "--get": "get", "-I": "head", "--head": "head",
    "-s": None, "--silent": None, "-S": None, "--show-error": None, "-k": None, "--insecure": None,
    "-L": None, "--location": None, "-v": None, "--verbose": None, "-i": None, "--include": None,
    "--compressed": None, "--http1.1": None, "--http2": None, "--http2-prior-knowledge": None,
    "-f": None, "--fail": None, "-N": None, "--no-buffer": None, "-g": None, "--globoff": None,
    "--path-as-is": None, "-#": None, "--progress-bar": None, "-4": None, "-6": None,
    "--fail-with-body": None, "-O": None, "--remote-name": None, "-Z": None, "--parallel": None,
}  # fmt: skip
_ANSI_C = re.compile(r"\$'((?:[^'\\]|\\.)*)'", re.DOTALL)
_ANSI_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "a": "\a", "b": "\b",
                 "e": "\x1b", "E": "\x1b", "f": "\f", "v": "\v", "?": "?"}  # fmt: skip


def _ansi_c_decode(body: str) -> str:
    """The value of a bash ``$'…'`` string (Chrome's "Copy as cURL" writes bodies so)."""
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\" or i + 1 >= len(body):
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ANSI_ESCAPES:
            out.append(_ANSI_ESCAPES[nxt])
            i += 2
        elif nxt == "x" and re.match(r"[0-9a-fA-F]{1,2}", body[i + 2 : i + 4]):
            digits = re.match(r"[0-9a-fA-F]{1,2}", body[i + 2 : i + 4]).group(0)  # type: ignore[union-attr]
            out.append(chr(int(digits, 16)))
            i += 2 + len(digits)
        elif nxt in "uU":
            width = 4 if nxt == "u" else 8
            digits = re.match(rf"[0-9a-fA-F]{{1,{width}}}", body[i + 2 : i + 2 + width])
            if digits:
                out.append(chr(int(digits.group(0), 16)))
                i += 2 + len(digits.group(0))
            else:
                out.append("\\" + nxt)
                i += 2
        elif nxt in "01234567":
            digits = re.match(r"[0-7]{1,3}", body[i + 1 : i + 4]).group(0)  # type: ignore[union-attr]
            out.append(chr(int(digits, 8)))
            i += 1 + len(digits)
        else:
            out.append("\\" + nxt)
            i += 2
    # \xHH sequences are bytes: re-read them as UTF-8 where they form characters.
    text = "".join(out)
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def _curl_tokens(text: str) -> list[str]:
    if '^"' in text or "^\n" in text:
        raise ScenarioImportError(
            "This looks like a cURL command copied for Windows cmd (with ^ escapes); "
            "copy it as “cURL (bash)” instead."
        )
    # Line continuations: backslash-newline (bash), also with \r\n.
    text = re.sub(r"\\\r?\n", " ", text)
    # $'…' strings become single-quoted plain strings shlex can read.
    text = _ANSI_C.sub(lambda m: shlex.quote(_ansi_c_decode(m.group(1))), text)
    try:
        return shlex.split(text, comments=False, posix=True)
    except ValueError as exc:
        raise ScenarioImportError(f"The cURL command cannot be read: {exc} (an unclosed quote?).") from None


@dataclass
class _CurlCommand:
    url: str = ""
    method: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    data: list[str] = field(default_factory=list)
    json_data: bool = False
    get: bool = False
    head: bool = False
    warnings: list[str] = field(default_factory=list)


def _split_curl_commands(tokens: list[str]) -> list[list[str]]:
    """Tokens of each command: ``curl`` starts one; ``;``, ``&&`` and ``||`` end one."""
    commands: list[list[str]] = []
    current: list[str] | None = None
    expecting_value = False
    for token in tokens:
        if not expecting_value and token in (";", "&&", "||"):
            current = None
            continue
        if not expecting_value and token == "curl":
            current = []
            commands.append(current)
            continue
        if current is None:
            if not commands:
                raise ScenarioImportError("Paste a command that starts with “curl”.")
            raise ScenarioImportError(f"Unexpected text {token[:60]!r} between cURL commands.")
        current.append(token)
        expecting_value = not expecting_value and token in _CURL_VALUE_OPTIONS
    if not commands:
        raise ScenarioImportError("Paste a command that starts with “curl”.")
    return commands


def _curl_read(tokens: list[str], index: int) -> _CurlCommand:
    cmd = _CurlCommand()
    where = f"cURL command {index}"
    i = 0
    while i < len(tokens):
        token = tokens[i]
        option, value = token, None
        if token.startswith("--") and "=" in token and token.split("=", 1)[0] in _CURL_VALUE_OPTIONS:
            option, value = token.split("=", 1)
        elif (
            token.startswith("-")
            and not token.startswith("--")
            and len(token) > 2
            and token[:2] in _CURL_VALUE_OPTIONS
        ):
            option, value = token[:2], token[2:]  # -XPOST, -HAccept:x
        elif token.startswith("-") and not token.startswith("--") and len(token) > 2:
            # A cluster of flags (-sSL); its last letter may take a value (-sX POST).
            letters = [f"-{c}" for c in token[1:]]
            if all(flag in _CURL_FLAGS for flag in letters[:-1]) and (
                letters[-1] in _CURL_FLAGS or letters[-1] in _CURL_VALUE_OPTIONS
            ):
                for flag in letters[:-1]:
                    _curl_flag(cmd, flag)
                token = option = letters[-1]
        if option in _CURL_FLAGS:
            _curl_flag(cmd, option)
            i += 1
            continue
        if option in _CURL_VALUE_OPTIONS:
            if value is None:
                if i + 1 >= len(tokens):
                    raise ScenarioImportError(f"{where}: {option} needs a value.")
                value = tokens[i + 1]
                i += 1
            _curl_option(cmd, option, _CURL_VALUE_OPTIONS[option], value, where)
            i += 1
            continue
        if token.startswith("-") and token != "-":
            cmd.warnings.append(f"{where}: ignored the option {token}.")
            i += 1
            continue
        if cmd.url:
            raise ScenarioImportError(
                f"{where}: two URLs ({cmd.url[:80]!r} and {token[:80]!r}); give one per command."
            )
        cmd.url = token
        i += 1
    if not cmd.url:
        raise ScenarioImportError(f"{where}: no URL (give it as an argument or with --url).")
    return cmd


def _curl_flag(cmd: _CurlCommand, flag: str) -> None:
    what = _CURL_FLAGS[flag]
    if what == "get":
        cmd.get = True
    elif what == "head":
        cmd.head = True


def _curl_option(cmd: _CurlCommand, option: str, what: str | None, value: str, where: str) -> None:
    if what == "request":
        cmd.method = value.upper()
    elif what == "header":
        name, sep, rest = value.partition(":")
        if not sep:
            if value.endswith(";"):  # -H 'X-Empty;' sends an empty header
                cmd.headers.append((value[:-1].strip(), ""))
                return
            raise ScenarioImportError(f"{where}: the header {value[:80]!r} has no “:” (write Name: value).")
        cmd.headers.append((name.strip(), rest.strip()))
    elif what in ("data", "data-raw", "data-urlencode", "json"):
        if what != "data-raw" and value.startswith("@"):
            raise ScenarioImportError(
                f"{where}: {option} {value[:80]} reads a file; paste the file's content instead "
                "(e.g. --data-raw '…')."
            )
        if what == "data-urlencode":
            from urllib.parse import quote_plus

            name, sep, content = value.partition("=")
            value = f"{name}={quote_plus(content)}" if sep else quote_plus(value)
        if what == "json":
            cmd.json_data = True
        cmd.data.append(value)
    elif what == "cookie":
        if "=" not in value:
            raise ScenarioImportError(
                f"{where}: {option} {value[:80]!r} reads a cookie file; give name=value pairs."
            )
        cmd.headers.append(("Cookie", value))
    elif what == "user":
        import base64

        credentials = value if ":" in value else f"{value}:"
        token = base64.b64encode(credentials.encode()).decode()
        cmd.headers.append(("Authorization", f"Basic {token}"))
    elif what == "bearer":
        cmd.headers.append(("Authorization", f"Bearer {value}"))
    elif what == "user-agent":
        cmd.headers.append(("User-Agent", value))
    elif what == "referer":
        cmd.headers.append(("Referer", value))
    elif what == "url":
        if cmd.url:
            raise ScenarioImportError(f"{where}: two URLs; give one per command.")
        cmd.url = value
    elif what == "form":
        raise ScenarioImportError(
            f"{where}: multipart form uploads ({option}) cannot be imported; use a JSON or text body."
        )
    elif what == "upload":
        raise ScenarioImportError(
            f"{where}: file uploads ({option}) cannot be imported; paste the body with --data-raw."
        )
    elif what == "config":
        raise ScenarioImportError(
            f"{where}: {option} reads options from a file; paste them on the command line."
        )
    else:
        cmd.warnings.append(f"{where}: ignored {option} {value[:40]}.")


def parse_curl(text: str) -> ImportResult:
    """Steps from one or more cURL commands (bash syntax, as browsers' “Copy as cURL” writes them)."""
    if not text.strip():
        raise ScenarioImportError("Paste a cURL command.")
    commands = _split_curl_commands(_curl_tokens(text))
    if len(commands) > MAX_STEPS:
        raise ScenarioImportError(f"At most {MAX_STEPS} commands at once.")
    steps, warnings, origins = [], [], []
    for index, tokens in enumerate(commands, start=1):
        cmd = _curl_read(tokens, index)
        where = f"cURL command {index}"
        url = cmd.url if "://" in cmd.url else f"http://{cmd.url}"  # curl's default scheme
        origin, path, query = _split_url(url, where=where)
        headers = _clean_headers(cmd.headers)
        body = "&".join(cmd.data)
        if cmd.json_data:
            headers.setdefault("Content-Type", "application/json")
            headers.setdefault("Accept", "application/json")
        if cmd.get and body:
            query.update(_query_dict(body))
            body = ""
        method = cmd.method or ("HEAD" if cmd.head else "POST" if body else "GET")
        if method not in METHODS:
            raise ScenarioImportError(f"{where}: the method {method!r} is not one of {', '.join(METHODS)}.")
        body = _body_allowed(method, body, where, cmd.warnings)
        content_type = _header_get(headers, "content-type")
        if body and not content_type and not cmd.json_data:
            # What curl sends with -d when no Content-Type is given.
            headers["Content-Type"] = content_type = "application/x-www-form-urlencoded"
        origins.append(origin)
        warnings += cmd.warnings
        steps.append(
            ImportedStep(
                name=_step_name(method, path),
                method=method,
                path=_check_path(path, where=where),
                query=query,
                headers=headers,
                body_type=_body_type(body, content_type),
                body=body,
                url=url,
            )
        )
    return ImportResult("curl", steps, _main_origin(origins, warnings), warnings)


def _main_origin(origins: list[str], warnings: list[str]) -> str:
    counts = Counter(origins)
    if len(counts) > 1:
        warnings.append(
            "The requests go to several hosts ("
            + ", ".join(o for o, _ in counts.most_common())
            + "); a scenario runs against one target, so only the paths were kept."
        )
    return counts.most_common(1)[0][0] if counts else ""


# -- HAR -------------------------------------------------------------------------------------------
def _load_json(text: str, *, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioImportError(
            f"The {what} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from None


def _is_static(url_path: str, entry: Mapping[str, Any]) -> bool:
    mime = str(((entry.get("response") or {}).get("content") or {}).get("mimeType") or "")
    resource = str(entry.get("_resourceType") or "")
    return (
        url_path.lower().endswith(STATIC_EXTENSIONS)
        or bool(STATIC_MIME.search(mime))
        or resource in ("image", "font", "stylesheet", "script", "media")
    )


def parse_har(text: str, *, base_url: str = "", include_static: bool = False) -> ImportResult:
    """Steps from a HAR file (browser devtools → Network → “Save all as HAR”), in recorded order.

    ``base_url`` keeps only requests under it (scheme, host, port and path prefix; the prefix is
    removed from the paths). Without it, the host with the most requests is used and the others
    are left out with a warning. Images, fonts, style sheets and scripts are left out unless
    ``include_static``."""
    data = _load_json(text, what="HAR file")
    entries = ((data or {}).get("log") or {}).get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ScenarioImportError("This is not a HAR file: it has no log.entries list.")
    if not entries:
        raise ScenarioImportError("The HAR file has no requests (log.entries is empty).")
    parsed = []
    for index, entry in enumerate(entries, start=1):
        request = entry.get("request") if isinstance(entry, dict) else None
        if not isinstance(request, dict) or not request.get("url"):
            raise ScenarioImportError(f"HAR entry {index} has no request URL.")
        url = str(request["url"])
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            continue  # data:, blob:, ws: … are not HTTP requests a step can make
        parsed.append((index, entry, request, url, *_split_url(url, where=f"HAR entry {index}")))
    warnings: list[str] = []
    prefix = ""
    if base_url:
        base_origin, prefix, _ = _split_url(base_url, where="The base URL")
        prefix = prefix.rstrip("/")
        kept = [
            p for p in parsed if p[4] == base_origin and (not prefix or _strip_prefix(p[5], prefix) != p[5])
        ]
        if not kept:
            raise ScenarioImportError(f"No request in the HAR file goes to {base_url}.")
        origin = base_origin
    else:
        counts = Counter(p[4] for p in parsed)
        if not counts:
            raise ScenarioImportError("The HAR file has no http:// or https:// requests.")
        origin = counts.most_common(1)[0][0]
        kept = [p for p in parsed if p[4] == origin]
    other_hosts = len(parsed) - len(kept)
    if other_hosts:
        warnings.append(
            f"Left out {other_hosts} request(s) to other hosts or paths than {origin}{prefix}; "
            "give a base URL to choose another."
        )
    steps = []
    static = 0
    for index, entry, request, url, _, path, query in kept:
        if not include_static and _is_static(path, entry):
            static += 1
            continue
        where = f"HAR entry {index}"
        method = str(request.get("method") or "GET").upper()
        if method not in METHODS:
            warnings.append(f"{where}: left out, the method {method} cannot be a step.")
            continue
        headers = _clean_headers(
            (str(h.get("name") or ""), str(h.get("value") or ""))
            for h in request.get("headers") or []
            if isinstance(h, dict)
        )
        if not any(k.lower() == "cookie" for k in headers):
            cookies = [
                f"{c.get('name')}={c.get('value')}"
                for c in request.get("cookies") or []
                if isinstance(c, dict)
            ]
            if cookies:
                headers["Cookie"] = "; ".join(cookies)
        post = request.get("postData") or {}
        body = str(post.get("text") or "") if isinstance(post, dict) else ""
        content_type = _header_get(headers, "content-type") or (
            str(post.get("mimeType") or "") if isinstance(post, dict) else ""
        )
        if isinstance(post, dict) and not body and post.get("params"):
            if "multipart" in content_type.lower():
                warnings.append(f"{where}: left out its multipart form body (files cannot be imported).")
            else:
                from urllib.parse import urlencode

                body = urlencode([(str(p.get("name")), str(p.get("value") or "")) for p in post["params"]])
        body = _body_allowed(method, body, where, warnings)
        if body and not _header_get(headers, "content-type") and content_type:
            headers["Content-Type"] = content_type
        path = _check_path(_strip_prefix(path, prefix), where=where)
        steps.append(
            ImportedStep(
                name=_step_name(method, path),
                method=method,
                path=path,
                query=query,
                headers=headers,
                body_type=_body_type(body, content_type),
                body=body,
                url=url,
            )
        )
    if static:
        warnings.append(f"Left out {static} image, font, style sheet and script request(s).")
    if not steps:
        raise ScenarioImportError(
            "Nothing to import: every request of the HAR file was left out. " + " ".join(warnings)
        )
    if len(steps) > MAX_STEPS:
        warnings.append(f"Kept the first {MAX_STEPS} of {len(steps)} requests.")
        steps = steps[:MAX_STEPS]
    return ImportResult("har", steps, origin + prefix, warnings)


# -- OpenAPI ---------------------------------------------------------------------------------------
def _load_document(text: str) -> Any:
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return _load_json(text, what="OpenAPI document")
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is in requirements.txt
        raise ScenarioImportError(
            "Only JSON OpenAPI documents can be read here (PyYAML is not installed)."
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ScenarioImportError(
            f"The OpenAPI document is not valid YAML{where}: {getattr(exc, 'problem', exc)}."
        ) from None


class _Refs:
    """Local ``$ref`` (``#/components/…``) resolution, with a depth guard against cycles."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document

    def resolve(self, node: Any, depth: int = 0) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            if depth > 20:
                raise ScenarioImportError("The OpenAPI document's $ref chain is too deep (a cycle?).")
            ref = str(node["$ref"])
            if not ref.startswith("#/"):
                raise ScenarioImportError(f"Only local references (#/…) can be followed, not {ref[:100]!r}.")
            target: Any = self.document
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, dict) or part not in target:
                    raise ScenarioImportError(f"The reference {ref[:100]!r} points at nothing.")
                target = target[part]
            node, depth = target, depth + 1
        return node


def _example_of(refs: _Refs, holder: Mapping[str, Any]) -> tuple[bool, Any]:
    """(found, value) of a parameter's, media type's or schema's example."""
    if "example" in holder:
        return True, holder["example"]
    examples = holder.get("examples")
    if isinstance(examples, dict) and examples:
        first = refs.resolve(next(iter(examples.values())))
        if isinstance(first, dict) and "value" in first:
            return True, first["value"]
    if isinstance(examples, list) and examples:  # JSON Schema's examples (OpenAPI 3.1)
        return True, examples[0]
    return False, None


def _sample(refs: _Refs, schema: Any, depth: int = 0) -> Any:
    """A value for ``schema``: its example, default, first enum value, or a placeholder by type."""
    schema = refs.resolve(schema)
    if not isinstance(schema, dict) or depth > 6:
        return None
    found, value = _example_of(refs, schema)
    if found:
        return value
    for key in ("default", "const"):
        if key in schema:
            return schema[key]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for combined in ("allOf", "oneOf", "anyOf"):
        if isinstance(schema.get(combined), list) and schema[combined]:
            if combined == "allOf":
                merged: dict[str, Any] = {}
                for part in schema[combined]:
                    sample = _sample(refs, part, depth + 1)
                    if isinstance(sample, dict):
                        merged.update(sample)
                return merged
            return _sample(refs, schema[combined][0], depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object" or (kind is None and "properties" in schema):
        properties = schema.get("properties") or {}
        return {str(name): _sample(refs, sub, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        item = _sample(refs, schema.get("items") or {}, depth + 1)
        return [] if item is None else [item]
    if kind == "integer":
        return max(1, int(schema.get("minimum") or 1))
    if kind == "number":
        return float(schema.get("minimum") or 1)
    if kind == "boolean":
        return True
    if kind == "string":
        fmt = schema.get("format")
        return {
            "date": "2024-01-01",
            "date-time": "2024-01-01T00:00:00Z",
            "uuid": "00000000-0000-0000-0000-000000000000",
            "email": "user@example.com",
        }.get(fmt, "string")  # noqa: E501
    return None


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return "" if value is None else str(value)


def _server_url(document: Mapping[str, Any], warnings: list[str]) -> str:
    servers = document.get("servers")
    if not isinstance(servers, list) or not servers or not isinstance(servers[0], dict):
        return ""
    server = servers[0]
    url = str(server.get("url") or "")
    for name, variable in (server.get("variables") or {}).items():
        if isinstance(variable, dict):
            url = url.replace("{" + str(name) + "}", str(variable.get("default", "")))
    if len(servers) > 1:
        warnings.append(f"The document lists {len(servers)} servers; used the first, {url}.")
    return url


def parse_openapi(text: str, *, base_url: str = "") -> ImportResult:
    """One step per operation of an OpenAPI 3 document (JSON or YAML).

    Paths are prefixed with the server's path (``servers[0]``, or ``base_url`` when given, whose
    origin is then the base URL). Path, query and header parameters take their example (or
    default, enum, a placeholder by type, with a warning); optional query parameters without an
    example are left out. JSON bodies come from the media type's example or are built from the
    schema. Security schemes are not turned into headers: set the credential on the target."""
    if not text.strip():
        raise ScenarioImportError("Paste or upload an OpenAPI document.")
    document = _load_document(text)
    if not isinstance(document, dict):
        raise ScenarioImportError("This is not an OpenAPI document: expected an object at the top.")
    if "swagger" in document:
        raise ScenarioImportError(
            "This is a Swagger 2.0 document; convert it to OpenAPI 3 first (e.g. with swagger2openapi "
            "or editor.swagger.io → Edit → Convert to OpenAPI 3)."
        )
    version = str(document.get("openapi") or "")
    if not version.startswith("3."):
        raise ScenarioImportError("This is not an OpenAPI 3 document: it has no “openapi: 3.x” field.")
    paths = document.get("paths")
    if not isinstance(paths, dict) or not paths:
        raise ScenarioImportError("The OpenAPI document has no paths.")
    refs = _Refs(document)
    warnings: list[str] = []
    server = base_url or _server_url(document, warnings)
    origin, prefix = "", ""
    if server:
        if "://" in server:
            origin, prefix, _ = _split_url(server, where="The server URL")
        else:
            prefix = urlsplit(server).path  # a relative server URL: a path on the target
        prefix = prefix.rstrip("/")
    steps: list[ImportedStep] = []
    for template, item in paths.items():
        item = refs.resolve(item)
        if not isinstance(item, dict):
            continue
        shared = [refs.resolve(p) for p in item.get("parameters") or []]
        for method_name, operation in item.items():
            method = str(method_name).upper()
            if method_name in ("parameters", "summary", "description", "servers", "$ref") or not isinstance(
                operation, dict
            ):
                continue
            if method not in METHODS:
                warnings.append(f"{method} {template}: left out, the method cannot be a step.")
                continue
            steps.append(
                _operation_step(refs, str(template), method, operation, shared, prefix, origin, warnings)
            )
    if not steps:
        raise ScenarioImportError("The OpenAPI document has no operations (GET, POST, … under paths).")
    if len(steps) > MAX_STEPS:
        warnings.append(f"Kept the first {MAX_STEPS} of {len(steps)} operations.")
        steps = steps[:MAX_STEPS]
    operations = [op for item in paths.values() if isinstance(item, dict) for op in item.values()]
    if document.get("security") or any(isinstance(op, dict) and op.get("security") for op in operations):
        warnings.append(
            "The API asks for credentials (security schemes); they were not imported: set them on "
            "the target (Auth, or its headers), which keeps them out of exports."
        )
    return ImportResult("openapi", steps, origin + prefix if origin else "", warnings)


def _operation_step(
    refs: _Refs,
    template: str,
    method: str,
    operation: Mapping[str, Any],
    shared: list[Any],
    prefix: str,
    origin: str,
    warnings: list[str],
) -> ImportedStep:
    where = f"{method} {template}"
    parameters: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in [*shared, *(operation.get("parameters") or [])]:
        param = refs.resolve(raw)
        if isinstance(param, dict) and param.get("name") and param.get("in"):
            parameters[(str(param["in"]), str(param["name"]))] = param
    path = template
    query: dict[str, Any] = {}
    headers: dict[str, str] = {}
    for (place, name), param in parameters.items():
        found, value = _example_of(refs, param)
        if not found:
            schema = refs.resolve(param.get("schema") or {})
            found, value = _example_of(refs, schema) if isinstance(schema, dict) else (False, None)
            if not found:
                value = _sample(refs, schema)
                if place == "query" and not param.get("required"):
                    continue
                if place in ("path", "query", "header") and not (
                    isinstance(schema, dict) and ("default" in schema or "enum" in schema)
                ):
                    warnings.append(
                        f"{where}: no example for the {place} parameter “{name}”; "
                        f"used {_as_text(value)!r}, edit it."
                    )
        if place == "path":
            path = path.replace("{" + name + "}", quote(_as_text(value), safe=""))
        elif place == "query":
            query[name] = [_as_text(v) for v in value] if isinstance(value, list) else _as_text(value)
        elif place == "header" and name.lower() not in DROPPED_HEADERS:
            headers[name] = _as_text(value)
    body, body_type = "", "none"
    request_body = refs.resolve(operation.get("requestBody") or {})
    content = request_body.get("content") if isinstance(request_body, dict) else None
    if isinstance(content, dict) and content:
        media_type = next((m for m in content if "json" in m.lower()), next(iter(content)))
        media = refs.resolve(content[media_type]) or {}
        found, value = _example_of(refs, media) if isinstance(media, dict) else (False, None)
        if not found and isinstance(media, dict):
            value = _sample(refs, media.get("schema") or {})
        if "json" in media_type.lower():
            body, body_type = json.dumps(value, indent=2, ensure_ascii=False), "json"
        elif isinstance(value, str):
            body, body_type = value, "text"
        else:
            warnings.append(f"{where}: left out its {media_type} body (only JSON and text are imported).")
        if body_type != "none" and not _body_allowed(method, body, where, warnings):
            body, body_type = "", "none"
        if body_type != "none":
            headers.setdefault("Content-Type", media_type)
    full = _check_path(prefix + path, where=where)
    name = str(operation.get("operationId") or operation.get("summary") or "") or _step_name(method, full)
    return ImportedStep(
        name=name[:MAX_NAME],
        method=method,
        path=full,
        query=query,
        headers=headers,
        body_type=body_type,
        body=body,
        url=f"{origin}{full}" if origin else full,
    )


# -- any of them -----------------------------------------------------------------------------------
def detect_format(text: str) -> str:
    """``curl``, ``har`` or ``openapi`` from the text itself."""
    stripped = text.lstrip()
    if stripped.startswith("curl ") or stripped.startswith("curl\t") or stripped.startswith("curl\\"):
        return "curl"
    if stripped.startswith("{"):
        head = stripped[:4000]
        if '"log"' in head and ('"entries"' in stripped or '"creator"' in head):
            return "har"
        return "openapi"
    if re.match(r"(?m)^(openapi|swagger)\s*:", stripped[:4000]) or re.search(
        r"(?m)^(openapi|swagger)\s*:", stripped[:4000]
    ):
        return "openapi"
    raise ScenarioImportError(
        "Could not tell what this is: paste a cURL command (starting with “curl”), a HAR file "
        "(JSON with log.entries) or an OpenAPI 3 document (JSON or YAML); or choose the format."
    )


def parse_any(
    text: str, *, format: str = "auto", base_url: str = "", include_static: bool = False
) -> ImportResult:  # noqa: A002
    """Parse ``text`` as ``format`` (``auto``: detected)."""
    if not (text or "").strip():
        raise ScenarioImportError(
            "Paste a cURL command, a HAR file or an OpenAPI document, or upload a file."
        )
    kind = detect_format(text) if format == "auto" else format
    if kind == "curl":
        return parse_curl(text)
    if kind == "har":
        return parse_har(text, base_url=base_url, include_static=include_static)
    if kind == "openapi":
        return parse_openapi(text, base_url=base_url)
    raise ScenarioImportError(f"Unknown format {format!r}; choose auto, curl, har or openapi.")
