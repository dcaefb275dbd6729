"""Every benchmark in bench/ still runs: each script, at its ``--smoke`` size, in a subprocess.

The scripts are found by globbing bench/*.py, minus the helper modules listed in HELPERS (which
other scripts import or spawn), so a new script is covered without touching this file, and a
script without ``--smoke`` fails here. Each smoke run must exit 0 and print its result table
(a Markdown table: header, ``|---|`` line, rows). Its numbers are never looked at: smoke sizes
are seconds long and the machine is shared, so they mean nothing.

Databases: a script declares the ones it supports with ``--db {...}`` (bench/common.py
``add_db_argument``; read here from its ``--help``). It runs in each pass of the suite whose
database it offers (``SCALETEST_TEST_DB``): the page benchmarks in both, the load benchmarks
only in the PostgreSQL pass (their ``--help`` says why). A script without ``--db`` touches no
database and runs once, in the PostgreSQL pass. Each pass gives the scripts a database of their
own (PostgreSQL ``scaletest_bench_smoke_<pid>``, dropped at the end; SQLite a file in a
temporary folder), never the published figures' ``scaletest_bench``, and an environment
without the test session's settings, as on a fresh clone.

What the scripts need besides the venv (nginx, Chromium, py-spy's ptrace) is never skipped
over: a missing piece fails the test with the script's own message (`manage.py test` installs
nginx and Chromium; py-spy comes with requirements.txt).

Cost: most of a smoke run is waiting (fixed-length runs, process start-ups), so the selected
scripts run BENCH_SMOKE_WORKERS (default 2) at a time from a module fixture and each test
waits for its own; pytest's per-test durations therefore include waiting for the others.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
BENCH = ROOT / "bench"

# Modules of bench/ that are not benchmarks of their own, and who uses them.
HELPERS = {
    "common.py": "imported by every script (machine, nginx, database, team, sizes)",
    "simulated.py": (
        "seeded runs, imported by pages.py, exports.py, profile_page.py, storage.py, seed.py, compare.py"
    ),
    "locustfile.py": "the plain-Locust side, run by overhead.py and fidelity.py",
    "tap_child.py": "the child with a tap, spawned by fidelity.py",
    "flame_summary.py": "py-spy summary, imported and run by profile_generators.py",
}
SCRIPTS = sorted(p.name for p in BENCH.glob("*.py") if p.name not in HELPERS)
PASS_DB = os.environ.get("SCALETEST_TEST_DB", "postgres")
NO_DB_PASS = "postgres"  # where scripts that touch no database run (once)
SMOKE_TIMEOUT = 240  # seconds; a smoke run takes 5-30 s
SMOKE_WORKERS = int(os.environ.get("BENCH_SMOKE_WORKERS", "2"))
# Variables of the test session that must not reach a benchmark (it picks its own database,
# broker and data folder, as it does on a fresh clone).
SESSION_ONLY = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "SECRET_KEY",
    "DJANGO_SETTINGS_MODULE",
    "DEBUG",
)


def _env(data_dir: Path, bench_db: str, sqlite: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in SESSION_ONLY and not (k.startswith("SCALETEST_") and k != "SCALETEST_CHROMIUM")
    }
    env.update(
        SCALETEST_DATA_DIR=str(data_dir),
        BENCH_DB=bench_db,
        BENCH_SQLITE=str(sqlite),
        PYTHONUNBUFFERED="1",
        COLUMNS="1000",  # argparse writes each option's help on one line
    )
    return env


@pytest.fixture(scope="session")
def bench_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    folder = tmp_path_factory.mktemp("bench-smoke")
    bench_db = f"scaletest_bench_smoke_{os.getpid()}"
    yield _env(folder / "data", bench_db, folder / "bench.sqlite3")
    if PASS_DB == "postgres":
        import psycopg

        pg = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
        with psycopg.connect(f"{pg}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{bench_db}" WITH (FORCE)')


def markdown_tables(text: str) -> list[tuple[str, list[str]]]:
    """(header line, data rows) of each Markdown table in ``text``; rows whose cell count
    differs from the header's end the table (so a half-printed row does not count)."""
    lines = [line.strip() for line in text.splitlines()]
    tables = []
    for i in range(len(lines) - 1):
        header, rule = lines[i], lines[i + 1]
        is_header = header.startswith("|") and header.endswith("|")
        if not (is_header and re.fullmatch(r"\|(\s*:?-{3,}:?\s*\|)+", rule)):
            continue
        cells = header.count("|")
        if rule.count("|") != cells:
            continue
        rows = []
        for line in lines[i + 2 :]:
            if not (line.startswith("|") and line.endswith("|") and line.count("|") == cells):
                break
            rows.append(line)
        tables.append((header, rows))
    return tables


def db_choices(help_text: str) -> tuple[list[str] | None, str]:
    """The ``--db`` choices a script's ``--help`` lists (None: it has no --db) and why."""
    match = re.search(r"^\s+--db \{([^}]*)\}\s*(.*)$", help_text, re.MULTILINE)  # the option's line
    if match is None:
        return None, ""
    why = match.group(2).split(";", 1)[1].strip() if ";" in match.group(2) else ""
    return match.group(1).split(","), why


def test_helpers_exist() -> None:
    """The exclusion list names real files (a renamed helper would otherwise be skipped)."""
    assert sorted(name for name in HELPERS if not (BENCH / name).exists()) == []
    assert SCRIPTS, "no benchmark scripts found in bench/"


def test_db_choices_reads_the_option_line_of_the_help() -> None:
    shown = (
        "usage: x.py [-h] [--smoke] [--db {postgres}]\n\noptions:\n  --smoke  smoke size\n"
        "  --db {postgres}       database (default postgres): postgres; it needs pg_column_size\n"
    )
    assert db_choices(shown) == (["postgres"], "it needs pg_column_size")
    assert db_choices("  --db {postgres,sqlite}  database (default postgres): postgres, sqlite\n") == (
        ["postgres", "sqlite"],
        "",
    )
    assert db_choices("usage: x.py [--smoke]\n  --smoke  smoke size\n") == (None, "")


def test_markdown_tables_finds_tables_and_refuses_broken_ones() -> None:
    good = "x\n| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\nend"
    assert markdown_tables(good) == [("| a | b |", ["| 1 | 2 |", "| 3 | 4 |"])]
    assert markdown_tables("| a | b |\n|---|---|\n") == [("| a | b |", [])]
    assert markdown_tables("| a | b |\n|---|---|\n| 1 |") == [("| a | b |", [])]
    assert markdown_tables("| a | b |\n| 1 | 2 |") == []


@dataclass
class Smoke:
    """What became of one script: skipped (why), failed before running (why), or its run."""

    script: str
    skip: str = ""
    fail: str = ""
    args: list[str] | None = None
    done: subprocess.CompletedProcess[str] | None = None


def run_smoke(script: str, env: dict[str, str]) -> Smoke:
    path = BENCH / script
    shown = subprocess.run(
        [sys.executable, str(path), "--help"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    if shown.returncode != 0:
        return Smoke(script, fail=f"{script} --help exited {shown.returncode}:\n{shown.stderr[-3000:]}")
    if "--smoke" not in shown.stdout:
        missing = f"bench/{script} has no --smoke size; each benchmark needs one (bench/README.md)"
        return Smoke(script, fail=missing)
    choices, why = db_choices(shown.stdout)
    args = [sys.executable, str(path), "--smoke"]
    if choices is None:
        if PASS_DB != NO_DB_PASS:
            return Smoke(script, skip=f"{script} touches no database: it runs once, in the {NO_DB_PASS} pass")
    elif PASS_DB not in choices:
        return Smoke(script, skip=f"{script} offers --db {','.join(choices)} only: {why or 'see its --help'}")
    else:
        args += ["--db", PASS_DB]
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=SMOKE_TIMEOUT)
    return Smoke(script, args=args, done=done)


@pytest.fixture(scope="module")
def smoke_runs(
    request: pytest.FixtureRequest, bench_env: dict[str, str]
) -> Iterator[dict[str, Future[Smoke]]]:
    """The smoke runs of the selected scripts, started together, SMOKE_WORKERS at a time."""
    selected = [
        str(item.callspec.params["script"])
        for item in request.session.items
        if isinstance(item, pytest.Function) and item.originalname == "test_benchmark_runs_at_smoke_size"
    ]
    pool = ThreadPoolExecutor(max_workers=max(1, SMOKE_WORKERS), thread_name_prefix="bench-smoke")
    futures = {script: pool.submit(run_smoke, script, bench_env) for script in selected}
    try:
        yield futures
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_runs_at_smoke_size(script: str, smoke_runs: dict[str, Future[Smoke]]) -> None:
    smoke = smoke_runs[script].result(timeout=SMOKE_TIMEOUT * (1 + len(smoke_runs)))
    if smoke.fail:
        pytest.fail(smoke.fail)
    if smoke.skip:
        pytest.skip(smoke.skip)
    done, args = smoke.done, smoke.args
    assert done is not None and args is not None
    output = f"--- stdout (tail)\n{done.stdout[-4000:]}\n--- stderr (tail)\n{done.stderr[-4000:]}"
    assert done.returncode == 0, f"{' '.join(args[1:])} exited {done.returncode}\n{output}"
    tables = markdown_tables(done.stdout)
    assert tables, f"{script} --smoke printed no result table\n{output}"
    assert all(rows for _, rows in tables), f"{script} --smoke printed a table without rows\n{output}"
