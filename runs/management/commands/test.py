"""`python3 manage.py test [--db sqlite|postgres|both] [--no-lint|--lint-only] [pytest args]`.

The linters, then the whole suite on both databases. First it runs ``ruff check .``,
``ruff format --check .``, ``mypy`` (django-stubs plugin) and, when ``.importlinter`` exists,
``lint-imports`` (runs/management/linters.py; requirements-dev.txt pins them). Each prints its
findings; all four run, and if any found something the command stops there, non-zero, before
the test passes (the findings are then the last thing in the CI log). ``--no-lint`` skips them
while developing; ``--lint-only`` runs just them.

Replaces Django's test runner with pytest (pytest-django). Before running it makes sure the
services the tests talk to are up (PostgreSQL and Redis on 127.0.0.1, started when installed
but stopped) and that Debian's Chromium (browser tests), nginx (the target of the
benchmarks, which tests/bench runs at their smoke size) and Prometheus with node_exporter (the
server-metrics tests start their own on loopback ports) are installed. Then it runs the
suite against PostgreSQL (what teams deploy) and against SQLite (the embedded default every
newcomer runs); ``--db`` picks one while developing. `.ci/run` calls this very command, so CI
covers both.

With both databases, the second pass (SQLite) runs only the tests that use the database under
test (``--database-tests-only``, tests/conftest.py): the others (pure functions, the Locust
child on its own, the deploy files, `up` with its own embedded database) give the same answer
on both and ran in the first pass. That is about half of the tests; with it the SQLite pass went
from 8.1 to 6.5 min on a quiet machine, the new concurrency tests included. The second pass
also leaves out tests marked ``first_database_only`` (tests/conftest.py): they use the database
only to keep what they measure, and their subject is something no database changes, the load
generator's accuracy against targets of known capacity (capacity and capacity-search truth,
arrival pacing, scenario variables, a real Prometheus, the CI capacity gate) or the browser's
view of the markup (CSP, accessibility, script injection). Each names the tests that check its
storage path on both databases (tests/test_test_command.py holds them to it). Measured
(December 2026, ``--durations``): the PostgreSQL pass spent 36.2 min in tests, 30.4 of them in
``slow`` ones; by those times the SQLite pass held 25.6 min of tests, 10.6 of them in these.
A fresh clone's `.ci/run` with them (December 2026, same machine, quiet): PostgreSQL 1,506
passed in 35.1 min, SQLite 643 passed and 4 skipped in 12.8 min (23.5 min before), 50.3 min in
all with the venv install (65 min before).

The passes run one after the other, not at once. Measured on this 2-core machine while it was
shared (load average 5-8): one after the other, 16.4 min (PostgreSQL) + 11.0 min (SQLite) with
every timing-dependent test passing; at once, 18.6 min, but four timing-dependent tests failed
in the PostgreSQL pass (arrival-rate pacing, distributed percentiles against a single-process
run, the gunicorn health probe timing out): the two passes' Locust children, workers, browsers
and PostgreSQL fight for two cores. (One after the other, two of those tests failed once in
four full runs.) A faster suite that fails for no reason costs more than the
minutes it saves. One after the other from a fresh clone on a quiet machine (load about 1):
16.0 min in all, venv install included (PostgreSQL 8.9 min, SQLite 6.5 min).

Where the time goes (tests/pages on PostgreSQL, ``--durations=60``, shared machine at load
average 6-10, November 2026): 262 tests in 14.5 min, a third of it in two tests that walk every
page in Chromium, test_csp (170 s) and test_accessibility's main pages (154 s). The CSP walk
now opens a document only once when its bytes and policy equal one already opened (Django's
bare 404 page, which Carol gets for most of Alice's URLs): 110 pages in Chromium instead of
149, every URL still header-checked; alone it took 144 s on PostgreSQL and 143 s on SQLite
(170-200 s before; 169 s in the whole-directory run after, at a higher load). The
accessibility walk no longer takes 40 full-page screenshots nobody looks at
(``SCALETEST_SCREENSHOT_DIR`` still saves them): 121 s and 106 s (SQLite) against 154 s.
Without the captures before it, axe found the muted text's contrast on the page background
under AA (4.47:1; now 4.7:1), which it had not reported with them. On this machine one piece's
time moved by 10-30 % between runs with the load alone (the whole directory: 870 s before,
969 s after at a higher load; the test database's creation 51 s and 10 s), so the page counts
are the firm figures; medians need a quiet machine.

Every pass ends with its 25 slowest tests of 10 s or more (``--durations`` in pyproject.toml's
``addopts``), so a CI log says where its minutes went.

Measured and left as is: each ``browser_page`` test starts Playwright's driver and Chromium
(3.5-6 s under load: driver 2-4 s, launch 1.5 s). A session-wide browser would save that,
but Playwright's sync API keeps its asyncio loop running in the main thread for as long as it
is started: Django then refuses every ORM call of every later test, and a test starting its own
``sync_playwright()`` (test_csp, test_up, new tests) fails. Sharing it needs the browser in a
process of its own (``connect_over_cdp``), which still pays the driver's start.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from runs.management.linters import run_linters
from runs.management.services_check import (
    ensure_chromium,
    ensure_nginx,
    ensure_postgres,
    ensure_prometheus,
    ensure_redis,
)

DATABASES = ("postgres", "sqlite")
NO_TESTS_COLLECTED = 5  # pytest's exit code when nothing was left to run


def split_db_option(args: list[str]) -> tuple[list[str], list[str]]:
    """(databases, the other args) from ``--db X`` / ``--db=X`` anywhere in ``args``."""
    chosen: list[str] = []
    rest: list[str] = []
    it = iter(args)
    for arg in it:
        if arg == "--db":
            value = next(it, None)
            if value is None:
                raise CommandError("--db needs a value: sqlite, postgres or both.")
        elif arg.startswith("--db="):
            value = arg.split("=", 1)[1]
        else:
            rest.append(arg)
            continue
        if value == "both":
            chosen.extend(DATABASES)
        elif value in DATABASES:
            chosen.append(value)
        else:
            raise CommandError(f"--db must be sqlite, postgres or both, not {value!r}.")
    return list(dict.fromkeys(chosen or DATABASES)), rest


def split_lint_option(args: list[str]) -> tuple[bool, bool, list[str]]:
    """(run the linters, run the tests, the other args) from ``--no-lint`` / ``--lint-only``."""
    no_lint = "--no-lint" in args
    lint_only = "--lint-only" in args
    if no_lint and lint_only:
        raise CommandError("--no-lint and --lint-only exclude each other.")
    rest = [arg for arg in args if arg not in ("--no-lint", "--lint-only")]
    return not no_lint, not lint_only, rest


class Command(BaseCommand):
    help = (
        "Run the whole test suite (pytest) on PostgreSQL and SQLite after starting PostgreSQL/Redis "
        "and installing Chromium, nginx, Prometheus and node_exporter, after the linters (ruff, "
        "ruff format, mypy, lint-imports). "
        "--db sqlite|postgres|both (default both); --no-lint skips the linters, --lint-only runs "
        "only them; other arguments go to pytest."
    )

    def run_from_argv(self, argv: list[str]) -> None:
        # Everything after `test` but --db goes to pytest untouched (-k, -x, paths, ...).
        self.execute(*argv[2:])

    def execute(self, *args: Any, **options: Any) -> None:
        lint, tests, rest = split_lint_option([str(a) for a in args])
        databases, pytest_args = split_db_option(rest)
        if lint:
            self.lint()
        if not tests:
            return
        steps = [
            ("PostgreSQL on 127.0.0.1:5432", ensure_postgres),
            ("Redis on 127.0.0.1:6379", ensure_redis),
            ("Chromium for browser tests", ensure_chromium),
            ("nginx for the benchmarks' smoke tests", ensure_nginx),
            ("Prometheus and node_exporter for the server-metrics tests", ensure_prometheus),
        ]
        for label, step in steps:
            message = step()
            print(f"[scaletest test] {label}: {message}", flush=True)
        results: list[tuple[str, int, float]] = []
        for index, db in enumerate(databases):
            env = dict(os.environ)
            env.pop("DJANGO_SETTINGS_MODULE", None)  # pyproject.toml names the settings
            for name in ("DATABASE_URL", "SCALETEST_TEST_DB_NAME", "SCALETEST_DATA_DIR"):
                env.pop(name, None)  # tests/_env.py chooses them for the database under test
            env["SCALETEST_TEST_DB"] = db
            # Tests that touch no database gave their answer in the first pass.
            only = ["--database-tests-only"] if index > 0 else []
            cmd = [sys.executable, "-m", "pytest", *only, *pytest_args]
            print(f"[scaletest test] on {db}: {' '.join(cmd)}", flush=True)
            started = time.monotonic()
            code = subprocess.call(cmd, env=env)
            if only and code == NO_TESTS_COLLECTED:
                code = 0  # the tests picked (-k, paths) all ran in the first pass
            results.append((db, code, time.monotonic() - started))
        for db, code, seconds in results:
            verdict = "passed" if code == 0 else f"FAILED (pytest exit {code})"
            print(f"[scaletest test] {db}: {verdict} in {seconds / 60:.1f} min", flush=True)
        sys.exit(next((code for _, code, _ in results if code != 0), 0))

    def lint(self) -> None:
        """Run every linter; exit non-zero, before any test pass, when one found something."""
        results = run_linters(Path(settings.BASE_DIR))
        for result in results:
            verdict = "passed" if result.code == 0 else f"FAILED (exit {result.code})"
            print(f"[scaletest test] lint: {result.name}: {verdict} in {result.seconds:.1f} s", flush=True)
        failed = [result.name for result in results if result.code != 0]
        if failed:
            print(
                f"[scaletest test] lint: findings from {', '.join(failed)} (above); the test passes did "
                "not run. Fix them (`--no-lint` skips the linters while developing).",
                flush=True,
            )
            sys.exit(1)
