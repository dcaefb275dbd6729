"""`manage.py test`'s own arguments: --db picks the databases, everything else goes to pytest."""

from __future__ import annotations

import pytest
from django.core.management.base import CommandError

from runs.management.commands.test import split_db_option


@pytest.mark.parametrize(
    ("args", "databases", "rest"),
    [
        ([], ["postgres", "sqlite"], []),
        (["-x", "tests/pages"], ["postgres", "sqlite"], ["-x", "tests/pages"]),
        (["--db", "sqlite", "-k", "histogram"], ["sqlite"], ["-k", "histogram"]),
        (["-q", "--db=postgres"], ["postgres"], ["-q"]),
        (["--db", "both"], ["postgres", "sqlite"], []),
        (["--db", "sqlite", "--db", "postgres"], ["sqlite", "postgres"], []),
    ],
)
def test_db_picks_the_databases_and_the_rest_goes_to_pytest(
    args: list[str], databases: list[str], rest: list[str]
) -> None:
    assert split_db_option(args) == (databases, rest)


@pytest.mark.parametrize("args", [["--db"], ["--db", "mysql"], ["--db="]])
def test_a_bad_db_is_a_clear_error(args: list[str]) -> None:
    with pytest.raises(CommandError, match="--db"):
        split_db_option(args)


POSTGRES_ONLY_AT_MOST = 3  # each is a path SQLite users run untested; keep it that way


def test_postgres_only_tests_are_few_and_each_names_its_sqlite_counterpart() -> None:
    import re
    from pathlib import Path

    tests = Path(__file__).resolve().parent
    sources = {path: path.read_text() for path in tests.rglob("*.py")}
    marked = [
        (path, match.group(1))
        for path, text in sources.items()
        if path.name != "conftest.py"
        for match in re.finditer(r"@pytest\.mark\.postgres_only\((.*?)\)\n(?:@|def )", text, re.S)
    ]
    assert 1 <= len(marked) <= POSTGRES_ONLY_AT_MOST, marked
    everything = "\n".join(sources.values())
    for path, reason in marked:
        counterpart = re.search(r"counterpart is (test_\w+)", reason)
        assert counterpart, f"{path}: the reason names no SQLite counterpart: {reason}"
        assert f"def {counterpart.group(1)}(" in everything, f"{path}: {counterpart.group(1)} does not exist"
