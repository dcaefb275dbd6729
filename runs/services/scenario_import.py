"""Scenarios from a cURL command, a HAR file or an OpenAPI document (``runs.core.scenario_import``
parses them): the preview, then the save.

Secrets: header and query values whose names look like credentials (``Authorization``,
``Cookie``, ``X-Api-Key``, ``?token``… — the names exports redact) are flagged in the preview and
**left out** of the saved steps unless the user ticks "keep" for each. Step headers are stored as
plain text (only exports redact them), so the place for a credential is the target (its Auth
fields or headers), which every step of a run sends.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from runs.core.scenario_import import (
    MAX_STEPS,
    ImportedStep,
    ImportResult,
    ScenarioImportError,
    parse_any,
)
from runs.models import Scenario

__all__ = [
    "ScenarioImportError",
    "imported_steps_chosen",
    "imported_steps_load",
    "scenario_import_parse",
    "scenario_post_data",
]

MAX_IMPORT_BYTES = 10 * 1024 * 1024


def scenario_import_parse(
    *,
    text: str,
    format: str = "auto",
    base_url: str = "",
    include_static: bool = False,  # noqa: A002
) -> ImportResult:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_IMPORT_BYTES:
        raise ScenarioImportError(f"The input is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB.")
    return parse_any(text, format=format, base_url=(base_url or "").strip(), include_static=include_static)


def imported_steps_load(raw: str) -> list[ImportedStep]:
    """The steps the preview page carries (JSON), checked again: the browser sent them back."""
    try:
        data = json.loads(raw or "")
    except json.JSONDecodeError:
        raise ScenarioImportError("The steps of the preview were damaged; import the input again.") from None
    if not isinstance(data, list) or not data or not all(isinstance(item, dict) for item in data):
        raise ScenarioImportError("The steps of the preview were damaged; import the input again.")
    if len(data) > MAX_STEPS:
        raise ScenarioImportError(f"At most {MAX_STEPS} steps at once.")
    return [ImportedStep.from_dict(item) for item in data]


def imported_steps_chosen(
    steps: list[ImportedStep], *, include: Iterable[int], keep_secrets: Iterable[str]
) -> tuple[list[dict[str, Any]], int]:
    """The chosen steps as ``ScenarioStep`` fields, and how many flagged values were left out.

    ``include``: their indexes; ``keep_secrets``: ``"<index>:<name>"`` of each flagged header
    (``Name``) or query parameter (``?name``) kept; every other flagged value is left out."""
    chosen = sorted({i for i in include if 0 <= i < len(steps)})
    if not chosen:
        raise ScenarioImportError("Choose at least one step to import.")
    kept = set(keep_secrets)
    out, left_out = [], 0
    for i in chosen:
        step = steps[i]
        dropped = [name for name in step.secret_names if f"{i}:{name}" not in kept]
        left_out += len(dropped)
        out.append(step.without(dropped).to_step())
    return out, left_out


def scenario_post_data(*, name: str, mode: str, steps: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The scenario page's POST for a new scenario with ``steps``, so the page's own form and
    step formset validate an import exactly as they validate a scenario typed in."""
    post: dict[str, Any] = {
        "name": name,
        "description": "",
        "kind": Scenario.Kind.STEPS,
        "mode": mode,
        "user_class": Scenario.UserClass.FAST,
        "think_time_min": "0",
        "think_time_max": "0",
        "steps-TOTAL_FORMS": str(len(steps)),
        "steps-INITIAL_FORMS": str(len(steps)),
        "sources-TOTAL_FORMS": "0",
        "sources-INITIAL_FORMS": "0",
    }
    for i, step in enumerate(steps):
        post.update(
            {
                f"steps-{i}-name": step["name"],
                f"steps-{i}-method": step["method"],
                f"steps-{i}-path": step["path"],
                f"steps-{i}-query": json.dumps(step["query"]) if step["query"] else "",
                f"steps-{i}-headers": json.dumps(step["headers"]) if step["headers"] else "",
                f"steps-{i}-body_type": step["body_type"],
                f"steps-{i}-body": step["body"],
                f"steps-{i}-weight": "1",
                f"steps-{i}-expected_statuses": "200-399",
                f"steps-{i}-extract": "",
                f"steps-{i}-ORDER": str(i + 1),
            }
        )
    return post


def default_name(result: ImportResult) -> str:
    what = {"curl": "cURL", "har": "HAR", "openapi": "OpenAPI"}[result.format]
    host = result.base_url.split("://", 1)[-1] if result.base_url else ""
    return f"Imported from {what}{f' ({host})' if host else ''}"[:200]
