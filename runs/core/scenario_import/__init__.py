"""Scenario steps from what users already have: a cURL command, a HAR file, an OpenAPI document.

Pure package: no Django, no I/O (``_common``: steps and shared helpers; ``curl``, ``har``,
``openapi``: one parser each; here: detection and ``parse_any``). Each parser turns text into
an :class:`ImportResult`: steps (method, path, query, headers, body) ready for ``ScenarioStep``,
the base URL they were made against, warnings about what was left out, and for each step the
header and query names that look like credentials (``secret_names``), so the preview can flag
them and the view can leave them out unless the user keeps them.

Every error is an :class:`ScenarioImportError` whose message says what is wrong and where.
Literal ``${`` in imported values is written ``$${``: scenario steps read ``${name}`` as a
variable (``runs.core.engine.scenario_vars``) and imported text must arrive as it was.
"""

from __future__ import annotations

import re

from runs.core.scenario_import._common import (
    FORMATS,
    MAX_STEPS,
    METHODS,
    SECRET_NAME,
    ImportedStep,
    ImportResult,
    ScenarioImportError,
    escape_vars,
    is_secret_name,
)
from runs.core.scenario_import.curl import parse_curl
from runs.core.scenario_import.har import parse_har
from runs.core.scenario_import.openapi import parse_openapi

__all__ = [
    "FORMATS",
    "MAX_STEPS",
    "METHODS",
    "SECRET_NAME",
    "ImportResult",
    "ImportedStep",
    "ScenarioImportError",
    "detect_format",
    "escape_vars",
    "is_secret_name",
    "parse_any",
    "parse_curl",
    "parse_har",
    "parse_openapi",
]


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
