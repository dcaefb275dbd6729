"""Run annotations: tag and version validation (pure, no database)."""

from __future__ import annotations

import pytest

from runs.services.annotations import MAX_TAGS, AnnotationError, annotations_clean, tags_parse


def test_tags_are_split_on_commas_and_spaces_lower_cased_and_deduplicated() -> None:
    assert tags_parse("Before-Deploy, db_v2  v1.4,before-deploy") == ["before-deploy", "db_v2", "v1.4"]
    assert tags_parse("") == [] and tags_parse(None) == []
    assert tags_parse(["A", "b"]) == ["a", "b"]


@pytest.mark.parametrize("raw", ['"quoted"', "semi;colon", "-leading", "x" * 33, "ünïcode", "<b>", "a/b"])
def test_a_tag_outside_the_charset_or_too_long_is_refused_with_the_rule(raw: str) -> None:
    with pytest.raises(AnnotationError) as exc:
        tags_parse(raw)
    assert "tags" in exc.value.errors and "lower-case letters" in exc.value.errors["tags"]


def test_at_most_max_tags() -> None:
    tags_parse(",".join(f"t{i}" for i in range(MAX_TAGS)))
    with pytest.raises(AnnotationError, match=f"At most {MAX_TAGS} tags"):
        tags_parse(",".join(f"t{i}" for i in range(MAX_TAGS + 1)))


def test_version_and_notes_limits_are_reported_field_by_field() -> None:
    clean = annotations_clean(version="  v1.4  (abc123) ", tags="x", notes=" note ")
    assert (clean.version, clean.tags, clean.notes) == ("v1.4 (abc123)", ["x"], "note")
    with pytest.raises(AnnotationError) as exc:
        annotations_clean(version="v" * 101, tags="bad tag!", notes="n" * 5001)
    assert set(exc.value.errors) == {"version", "tags", "notes"}
    with pytest.raises(AnnotationError, match="control characters"):
        annotations_clean(version="v1\x00")
