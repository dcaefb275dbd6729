"""`manage.py copy_database --to URL`: everything moves to a new database, exactly, and a
database holding data is never overwritten.

The source is the database under test, so the PostgreSQL pass copies PostgreSQL to SQLite
and the SQLite pass copies SQLite (the embedded default a team grows out of) to PostgreSQL:
both ways, on real databases. The command runs as a separate process, as an operator runs it;
the copy is then read back independently of the command (raw rows through the target's own
driver), compared with the source table by table, and opened by Django as the new default.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from runs.core.engine.protocol import EndpointSecond as EndpointMsg
from runs.core.engine.protocol import SecondMessage
from runs.core.histogram import Histogram
from runs.models import Run
from runs.services.api_tokens import api_token_create
from runs.services.database_copy import copied_models
from runs.services.results import results_ingest, run_summarise
from runs.services.runs import plan_snapshot
from runs.services.shares import share_create_run

from ..conftest import BASE_DIR, database_url

START = 1_760_000_000
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"


def _ep(name: str, values: list[float]) -> EndpointMsg:
    h = Histogram()
    for v in values:
        h.record_ms(v)
    return EndpointMsg("GET", name, len(values), 0, 10 * len(values), h.to_dict())


@pytest.fixture
def stored(transactional_db: None, make_plan: Any, alice: Any) -> Run:
    """A finished run with exact histograms, its summary and analysis, a share link and a token."""
    plan = make_plan("http://127.0.0.1:9", "/a", name="Move me", team=alice.memberships.get().team)
    run = Run.objects.create(
        team=plan.team,
        plan=plan,
        plan_name=plan.name,
        snapshot=plan_snapshot(plan=plan),
        status=Run.Status.RUNNING,
        started_at=dt.datetime.fromtimestamp(START, tz=dt.UTC),
        heartbeat_at=timezone.now(),
        planned_seconds=30,
    )
    seconds = [
        SecondMessage(
            START + t, 2 + t // 10, None, (_ep("/a", [10 + t, 20, 30.5]), _ep("/b", [t * 1.5 + 1])), ()
        )
        for t in range(30)
    ]
    results_ingest(run_id=run.pk, seconds=seconds, start_epoch=START, last_t=-1, seq=0)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.FINISHED, finished_at=timezone.now())
    run_summarise(run_id=run.pk)
    share_create_run(run=run, user=alice, label="for the team")
    api_token_create(user=alice, name="ci")
    return run


def _run_copy(to_url: str, source_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": source_url, "SCALETEST_NO_BOOTSTRAP": "1"}
    return subprocess.run(
        [sys.executable, "manage.py", "copy_database", "--to", to_url],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture
def target_url(tmp_path: Path) -> Iterator[str]:
    """A new, empty database of the other kind than the one under test."""
    if connection.vendor == "postgresql":
        yield f"sqlite:///{tmp_path / 'moved.sqlite3'}"
        return
    name = f"scaletest_move_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _raw_rows(url: str, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    cols = ", ".join(f'"{c}"' for c in columns)
    sql = f'SELECT {cols} FROM "{table}" ORDER BY 1'
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            return [tuple(r) for r in db.execute(sql).fetchall()]
    with psycopg.connect(url) as db:
        return [tuple(r) for r in db.execute(sql).fetchall()]


def _comparable(value: Any) -> Any:
    """One spelling per value across drivers: JSON text → its data, times → UTC ISO, bools → int."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == " ":
        return dt.datetime.fromisoformat(value).replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (dict, list)):
        return json.loads(json.dumps(value))
    if isinstance(value, uuid.UUID):
        return value.hex
    return value


@pytest.mark.slow
def test_everything_moves_to_the_other_database_exactly_and_the_copy_opens(
    stored: Run, target_url: str
) -> None:
    source_url = database_url(connection.settings_dict)
    done = _run_copy(target_url, source_url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Copied and verified" in done.stdout and "runs.EndpointSecond" in done.stdout

    # Every table, row by row, read back with the target's own driver.
    compared = 0
    for model in copied_models():
        columns = [f.column for f in model._meta.concrete_fields if f.column is not None]  # all concrete
        table = model._meta.db_table
        src = [tuple(map(_comparable, r)) for r in _raw_rows(source_url, table, columns)]
        dst = [tuple(map(_comparable, r)) for r in _raw_rows(target_url, table, columns)]
        assert dst == src, f"{table} differs after the copy"
        compared += len(src)
    assert compared > 100

    # Django opens the copy as its default database: the run, its figures and new ids.
    check = (
        "from runs.models import Run, ShareLink; "
        f"r = Run.objects.get(pk={stored.pk}); "
        "print(r.total_requests, r.endpoint_summaries.count(), ShareLink.objects.count(), "
        "Run.objects.create(team=r.team, plan_name='new', snapshot={}).pk > r.pk)"
    )
    opened = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-v", "0", "-c", check],
        cwd=BASE_DIR,
        env={**os.environ, "DATABASE_URL": target_url, "SCALETEST_NO_BOOTSTRAP": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert opened.returncode == 0, opened.stderr
    stored.refresh_from_db()
    assert stored.total_requests == 30 * 4
    assert opened.stdout.split() == [str(stored.total_requests), "2", "1", "True"]

    # Again into the same database: refused, and nothing in it changes.
    before = _raw_rows(target_url, "runs_run", ["id", "plan_name"])
    again = _run_copy(target_url, source_url)
    assert again.returncode != 0
    assert "already holds data" in again.stderr and "never overwrites" in again.stderr
    assert _raw_rows(target_url, "runs_run", ["id", "plan_name"]) == before


def test_the_database_in_use_is_refused_as_its_own_target(transactional_db: None) -> None:
    source_url = database_url(connection.settings_dict)
    done = _run_copy(source_url, source_url)
    assert done.returncode != 0
    assert "is the database in use" in done.stderr
