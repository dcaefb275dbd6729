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
