"""HAR files (browser devtools → Network → “Save all as HAR”) into steps."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from runs.core.scenario_import._common import (
    MAX_STEPS,
    METHODS,
    STATIC_EXTENSIONS,
    STATIC_MIME,
    ImportedStep,
    ImportResult,
    ScenarioImportError,
    body_allowed,
    check_path,
    clean_headers,
    guess_body_type,
    header_get,
    load_json,
    split_url,
    step_name,
    strip_prefix,
)


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
    data = load_json(text, what="HAR file")
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
        parsed.append((index, entry, request, url, *split_url(url, where=f"HAR entry {index}")))
    warnings: list[str] = []
    prefix = ""
    if base_url:
        base_origin, prefix, _ = split_url(base_url, where="The base URL")
        prefix = prefix.rstrip("/")
        kept = [
            p for p in parsed if p[4] == base_origin and (not prefix or strip_prefix(p[5], prefix) != p[5])
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
        headers = clean_headers(
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
        content_type = header_get(headers, "content-type") or (
            str(post.get("mimeType") or "") if isinstance(post, dict) else ""
        )
        if isinstance(post, dict) and not body and post.get("params"):
            if "multipart" in content_type.lower():
                warnings.append(f"{where}: left out its multipart form body (files cannot be imported).")
            else:
                from urllib.parse import urlencode

                body = urlencode([(str(p.get("name")), str(p.get("value") or "")) for p in post["params"]])
        body = body_allowed(method, body, where, warnings)
        if body and not header_get(headers, "content-type") and content_type:
            headers["Content-Type"] = content_type
        path = check_path(strip_prefix(path, prefix), where=where)
        steps.append(
            ImportedStep(
                name=step_name(method, path),
                method=method,
                path=path,
                query=query,
                headers=headers,
                body_type=guess_body_type(body, content_type),
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
