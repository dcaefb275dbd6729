"""The compact-histogram migration converts every stored JSON histogram exactly, and back."""

from __future__ import annotations

import random
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from runs.core.histogram import Histogram
from runs.services.runs import plan_snapshot

BEFORE = [("runs", "0016_metric_sources")]
AFTER = [("runs", "0017_compact_histograms")]
PERCENTILES = (50, 90, 95, 99, 99.9, 100)


def _histogram(rng: random.Random, n: int) -> Histogram:
    h = Histogram()
    for _ in range(n):
        h.record_ms(rng.lognormvariate(3, 1.5))
    return h


@pytest.mark.django_db(transaction=True)
def test_stored_json_histograms_become_compact_bytes_with_identical_percentiles_and_back(
    make_plan: Any, alice: Any
) -> None:
    plan = make_plan("http://127.0.0.1:9", "/a", name="Nightly", team=alice.memberships.get().team)
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    run = old.get_model("runs", "Run").objects.create(
        team_id=plan.team_id, plan_id=plan.pk, plan_name="Nightly", snapshot=plan_snapshot(plan=plan)
    )
    rng = random.Random(11)
    # Busy seconds, a one-sample second and an empty one (stored as ``{}`` by the old default).
    hists = [_histogram(rng, n) for n in (2000, 1, 37, 0, 500)]
    stored = [h.to_dict() if h.total else {} for h in hists]
    for t, data in enumerate(stored):
        n = hists[t].total
        old.get_model("runs", "RunSecond").objects.create(run=run, t=t, requests=n, histogram=data)
        for name in ("/a", "/b"):
            old.get_model("runs", "EndpointSecond").objects.create(
                run=run, t=t, method="GET", name=name, requests=n, histogram=data
            )
    old.get_model("runs", "EndpointSummary").objects.create(
        run=run, method="GET", name="/a", histogram=Histogram.merged(hists).to_dict()
    )

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    seconds = new.get_model("runs", "RunSecond").objects.filter(run_id=run.pk).order_by("t")
    blobs = [bytes(b) for b in seconds.values_list("histogram", flat=True)]
    assert blobs[3] == b""  # the empty second
    for before, blob in zip(hists, blobs, strict=True):
        after = Histogram.from_bytes(blob)
        assert after.to_dict() == before.to_dict()
        assert after.percentiles_ms(PERCENTILES) == before.percentiles_ms(PERCENTILES)
    endpoint_blobs = (
        new.get_model("runs", "EndpointSecond")
        .objects.filter(run_id=run.pk, name="/b")
        .order_by("t")
        .values_list("histogram", flat=True)
    )
    assert [bytes(b) for b in endpoint_blobs] == blobs
    summary = new.get_model("runs", "EndpointSummary").objects.get(run_id=run.pk)
    assert Histogram.from_bytes(bytes(summary.histogram)).to_dict() == Histogram.merged(hists).to_dict()
    # Smaller than the JSON it replaces, whatever the database.
    assert sum(map(len, blobs)) < sum(len(str(d)) for d in stored) / 3

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    back = executor.loader.project_state(BEFORE).apps
    restored = list(
        back.get_model("runs", "RunSecond")
        .objects.filter(run_id=run.pk)
        .order_by("t")
        .values_list("histogram", flat=True)
    )
    assert restored == stored

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
