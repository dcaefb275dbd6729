"""Annotations of a run: what was deployed (version or commit), short tags and free-text notes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from runs.models import Run

MAX_TAGS = 10
MAX_TAG_LENGTH = 32
MAX_VERSION_LENGTH = 100
MAX_NOTES_LENGTH = 5000
# Lower-case letters, digits, "." "_" "-"; starts with a letter or digit. No quotes or commas:
# the run list filters tags by the JSON text '"tag"' (runs.selectors.runs.run_list), on SQLite too.
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class AnnotationError(ValueError):
    """Invalid annotations; ``errors`` maps a field (notes, tags, version) to a message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True)
class Annotations:
    version: str
    tags: list[str]
    notes: str


def tags_parse(raw: str | list[str] | None) -> list[str]:
    """Tags from "a, b c" (commas or spaces) or a list: lower-cased, distinct, in order."""
    items = raw if isinstance(raw, list) else re.split(r"[,\s]+", raw or "")
    tags = list(dict.fromkeys(str(t).strip().lower() for t in items if str(t).strip()))
    bad = [t for t in tags if len(t) > MAX_TAG_LENGTH or not TAG_RE.match(t)]
    if bad:
        raise AnnotationError(
            {
                "tags": (
                    f"Invalid tag “{bad[0]}”: tags have 1 to {MAX_TAG_LENGTH} characters, "
                    "lower-case letters, digits, "
                    "“.”, “_” or “-”, starting with a letter or digit (separate tags with commas or spaces)."
                )
            }
        )
    if len(tags) > MAX_TAGS:
        raise AnnotationError({"tags": f"At most {MAX_TAGS} tags per run; {len(tags)} were given."})
    return tags


def annotations_clean(
    *, version: str = "", tags: str | list[str] | None = None, notes: str = ""
) -> Annotations:
    errors: dict[str, str] = {}
    version = " ".join((version or "").split())
    if len(version) > MAX_VERSION_LENGTH:
        errors["version"] = f"A version has at most {MAX_VERSION_LENGTH} characters."
    elif any(not ch.isprintable() for ch in version):
        errors["version"] = "A version cannot contain control characters."
    notes = (notes or "").strip()
    if len(notes) > MAX_NOTES_LENGTH:
        errors["notes"] = f"Notes have at most {MAX_NOTES_LENGTH} characters; these have {len(notes)}."
    try:
        parsed = tags_parse(tags)
    except AnnotationError as exc:
        errors.update(exc.errors)
        parsed = []
    if errors:
        raise AnnotationError(errors)
    return Annotations(version=version, tags=parsed, notes=notes)


def run_annotate(*, run: Run, version: str = "", tags: Any = None, notes: str = "") -> Run:
    """Replace the run's version, tags and notes (all validated first; nothing changes on error)."""
    clean = annotations_clean(version=version, tags=tags, notes=notes)
    run.version, run.tags, run.notes = clean.version, clean.tags, clean.notes
    run.save(update_fields=["version", "tags", "notes"])
    return run
