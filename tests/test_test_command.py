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
    import ast
    import re
    from pathlib import Path

    tests = Path(__file__).resolve().parent
    trees = {path: ast.parse(path.read_text()) for path in tests.rglob("*.py")}
    marked = [
        (f"{path.name}::{node.name}", ast.literal_eval(keyword.value))
        for path, tree in trees.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        for decorator in node.decorator_list
        if isinstance(decorator, ast.Call) and ast.unparse(decorator.func) == "pytest.mark.postgres_only"
        for keyword in decorator.keywords
        if keyword.arg == "reason"
    ]
    assert 1 <= len(marked) <= POSTGRES_ONLY_AT_MOST, marked
    defined = {
        node.name for tree in trees.values() for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
    }
    for test, reason in marked:
        counterpart = re.search(r"counterpart is (test_\w+)", reason)
        assert counterpart, f"{test}: the reason names no SQLite counterpart: {reason}"
        assert counterpart.group(1) in defined, f"{test}: {counterpart.group(1)} does not exist"
