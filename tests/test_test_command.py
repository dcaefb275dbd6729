"""`manage.py test`'s own arguments: --db picks the databases, everything else goes to pytest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management.base import CommandError

from runs.management.commands.test import split_db_option, split_lint_option


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


@pytest.mark.parametrize(
    ("args", "lint", "tests", "rest"),
    [
        ([], True, True, []),
        (["--no-lint", "-x"], False, True, ["-x"]),
        (["--db", "sqlite", "--lint-only"], True, False, ["--db", "sqlite"]),
    ],
)
def test_lint_options_pick_the_linters_and_the_tests(
    args: list[str], lint: bool, tests: bool, rest: list[str]
) -> None:
    assert split_lint_option(args) == (lint, tests, rest)


def test_no_lint_and_lint_only_together_are_a_clear_error() -> None:
    with pytest.raises(CommandError, match="--no-lint and --lint-only"):
        split_lint_option(["--no-lint", "--lint-only"])


ROOT = Path(__file__).resolve().parent.parent
# A module with one finding for each linter: an unused import (ruff check), a line ruff would
# reformat (ruff format) and a str returned as an int (mypy).
PROBE = 'import os\n\n\ndef probe() -> int:\n    return   "not an int"\n'
# A contract the code breaks (views do import models), so lint-imports has a finding too.
BROKEN_CONTRACT = """[importlinter]
root_package = runs

[importlinter:contract:probe]
name = views never import models (broken on purpose)
type = forbidden
source_modules = runs.views
forbidden_modules = runs.models
"""


def test_the_command_runs_every_linter_and_fails_on_their_findings(tmp_path: Path) -> None:
    # A copy of the project with one finding per linter; mypy's cache comes along (mtimes kept),
    # so only the probe is checked afresh.
    copy = tmp_path / "project"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "var", "__pycache__", ".ruff_cache", ".import_linter_cache", "test-results"
        ),
    )
    (copy / "runs" / "_lint_probe.py").write_text(PROBE)
    (copy / ".importlinter").write_text(BROKEN_CONTRACT)
    env = {**os.environ, "SCALETEST_NO_BOOTSTRAP": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, "manage.py", "test", "--lint-only"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "F401 [*] `os` imported but unused\n --> runs/_lint_probe.py:1:8" in out, out
    assert "unformatted: File would be reformatted\n --> runs/_lint_probe.py:5:12" in out, out
    mypy_finding = 'runs/_lint_probe.py:5: error: Incompatible return value type (got "str", expected "int")'
    assert mypy_finding in out, out
    assert "views never import models (broken on purpose) BROKEN" in out, out
    for linter in ("ruff check .", "ruff format --check .", "mypy", "lint-imports"):
        assert f"[scaletest test] lint: {linter}: FAILED (exit 1)" in out, out
    assert "the test passes did not run" in out, out


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


def test_tests_run_on_one_database_only_name_where_their_storage_is_checked_on_both() -> None:
    """A ``first_database_only`` test skips the second database's pass: its reason must name the
    tests that check, on both databases, the storage it relies on, and those must run on both."""
    import ast
    import re

    tests = Path(__file__).resolve().parent
    trees = {path: ast.parse(path.read_text()) for path in tests.rglob("test_*.py")}

    def reasons(tree: ast.AST) -> list[str]:
        return [
            ast.literal_eval(keyword.value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "pytest.mark.first_database_only"
            for keyword in node.keywords
            if keyword.arg == "reason"
        ]

    marked = {path: reasons(tree) for path, tree in trees.items() if reasons(tree)}
    assert marked, "no test is marked first_database_only: the marker (and this check) can go"
    for path, texts in marked.items():
        for reason in texts:
            named = re.findall(r"tests/[\w/]+\.py", reason)
            assert named, f"{path.name}: the reason names no test file checking on both databases: {reason}"
            for name in named:
                other = tests.parent / name
                assert other.exists(), f"{path.name}: {name} does not exist"
                assert other not in marked, f"{path.name}: {name} is itself first_database_only"
