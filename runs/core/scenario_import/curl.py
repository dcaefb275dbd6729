"""cURL commands (bash syntax, as browsers' “Copy as cURL” writes them) into steps."""

from __future__ import annotations

import re
import shlex
from collections import Counter
from dataclasses import dataclass, field

from runs.core.scenario_import._common import (
    MAX_STEPS,
    METHODS,
    ImportedStep,
    ImportResult,
    ScenarioImportError,
    body_allowed,
    check_path,
    clean_headers,
    guess_body_type,
    header_get,
    query_dict,
    split_url,
    step_name,
)

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
        origin, path, query = split_url(url, where=where)
        headers = clean_headers(cmd.headers)
        body = "&".join(cmd.data)
        if cmd.json_data:
            headers.setdefault("Content-Type", "application/json")
            headers.setdefault("Accept", "application/json")
        if cmd.get and body:
            query.update(query_dict(body))
            body = ""
        method = cmd.method or ("HEAD" if cmd.head else "POST" if body else "GET")
        if method not in METHODS:
            raise ScenarioImportError(f"{where}: the method {method!r} is not one of {', '.join(METHODS)}.")
        body = body_allowed(method, body, where, cmd.warnings)
        content_type = header_get(headers, "content-type")
        if body and not content_type and not cmd.json_data:
            # What curl sends with -d when no Content-Type is given.
            headers["Content-Type"] = content_type = "application/x-www-form-urlencoded"
        origins.append(origin)
        warnings += cmd.warnings
        steps.append(
            ImportedStep(
                name=step_name(method, path),
                method=method,
                path=check_path(path, where=where),
                query=query,
                headers=headers,
                body_type=guess_body_type(body, content_type),
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
