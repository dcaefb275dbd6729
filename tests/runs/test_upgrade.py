"""Upgrades keep data: a database holding a run stored at the previous migration state is
migrated to the newest, and the run's page, figures and exports still show what was stored.

"Previous" is computed from the migration graph (the parent of the newest ``runs``
migration), so the test follows every new migration without being edited.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import StreamingHttpResponse
from django.test import Client

from runs.core.histogram import Histogram
from runs.services.runs import plan_snapshot

START = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def _previous_and_newest(executor: MigrationExecutor) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    graph = executor.loader.graph
    newest = [key for key in graph.leaf_nodes() if key[0] == "runs"]
    assert len(newest) == 1, newest
    parents = [p.key for p in graph.node_map[newest[0]].parents if p.key[0] == "runs"]
    assert len(parents) == 1, parents
    return parents, graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_a_run_stored_before_the_newest_migration_renders_after_the_upgrade(
    make_plan: Any, alice: Any
) -> None:
    # What a team has: its plan (made with today's code), and a run stored by the previous release.
    plan = make_plan("http://127.0.0.1:9", "/a", name="Nightly", team=alice.memberships.get().team)
    snapshot = plan_snapshot(plan=plan)
    executor = MigrationExecutor(connection)
    previous, newest = _previous_and_newest(executor)
    executor.migrate(previous)
    old = MigrationExecutor(connection).loader.project_state(previous).apps

    Run = old.get_model("runs", "Run")
    run = Run.objects.create(
        team_id=plan.team_id,
        plan_id=plan.pk,
        plan_name="Nightly",
        snapshot=snapshot,
        status="finished",
        started_at=START,
        finished_at=START + dt.timedelta(seconds=10),
        planned_seconds=10,
        total_requests=100,
        total_failures=2,
        last_t=9,
        p50_ms=12.0,
        p95_ms=31.0,
        p99_ms=40.0,
        max_ms=41.5,
    )
    total = Histogram()
    for t in range(10):
        h = Histogram()
        for v in (10.0, 12.0, 12.5, 14.0, 15.0, 18.0, 20.0, 25.0, 31.0, 40.0 + t / 10):
            h.record_ms(v)
        total.merge(h)
        ps = h.percentiles_ms((50, 95, 99))
        fields = {"requests": 10, "failures": 1 if t in (3, 7) else 0, "histogram": h.to_dict()}
        figures = {"p50_ms": ps[50], "p95_ms": ps[95], "p99_ms": ps[99], "max_ms": h.max_ms}
        old.get_model("runs", "RunSecond").objects.create(run=run, t=t, users=5, **fields, **figures)
        old.get_model("runs", "EndpointSecond").objects.create(
            run=run, t=t, method="GET", name="/a", **fields, **figures
        )
    old.get_model("runs", "EndpointSummary").objects.create(
        run=run,
        method="GET",
        name="/a",
        requests=100,
        failures=2,
        p50_ms=12.0,
        p90_ms=30.0,
        p95_ms=31.0,
        p99_ms=40.0,
        max_ms=41.5,
        rps=10.0,
        histogram=total.to_dict(),
    )

    MigrationExecutor(connection).migrate(newest)

    client = Client()
    client.force_login(alice)
    page = client.get(f"/runs/{run.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Nightly" in html and "/a" in html and "100" in html
    for marker in ("{%", "{{", "{#"):
        assert marker not in html
    exported = client.get(f"/runs/{run.pk}/export.json")
    assert exported.status_code == 200 and isinstance(exported, StreamingHttpResponse)
    data = json.loads(b"".join(exported.streaming_content))
    assert data["run"]["total_requests"] == 100
    assert client.get(f"/runs/{run.pk}/export.csv").status_code == 200
