"""Nothing counted twice: the worker's database connection cut exactly at a batch's commit.

A real Celery worker runs a real Locust child against the demo target and stores its seconds
in PostgreSQL through a proxy (tests/pgproxy.py) that cuts the connection at one write
transaction's COMMIT: before the server sees it (rolled back), after the server committed but
before the worker hears so (the worker cannot know the batch is stored and sends it again),
and just after. In every case the stored totals equal what the target served, exactly.

The SQLite counterpart (no server connection to cut; its failure is the file's write lock
held by another writer) is tests/safety/test_faults.py's
``test_a_writer_holding_the_database_lock_mid_run_delays_but_loses_nothing``; the ledger that
makes a retried batch harmless is tested on both databases in tests/engine/test_results.py.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum

from runs.models import EndpointSecond, EndpointSummary, Run, RunSecond
from runs.tasks import execute_run

from ..conftest import start_worker
from ..engine.helpers import target_count
from ..pgproxy import MOMENTS, PgCutProxy
from .test_faults import queued_run, stored_ts, wait_ended, wait_stored

pytestmark = pytest.mark.slow


@pytest.mark.postgres_only(
    reason="cuts the worker's PostgreSQL connection at a COMMIT; SQLite has no server connection, its "
    "counterpart is test_a_writer_holding_the_database_lock_mid_run_delays_but_loses_nothing"
)
@pytest.mark.parametrize("moment", MOMENTS)
def test_a_connection_cut_at_a_batch_commit_stores_every_request_exactly_once(
    moment: str, transactional_db: None, target_server: str, make_plan: Any
) -> None:
    settings = connection.settings_dict
    proxy = PgCutProxy(upstream=(settings.get("HOST") or "127.0.0.1", int(settings.get("PORT") or 5432)))
    queue = f"scaletest-ingest-cut-{uuid.uuid4().hex[:8]}"
    worker = start_worker(
        queue=queue,
        extra_env={"DATABASE_URL": proxy.url(settings["NAME"], settings.get("USER") or "postgres")},
    )
    try:
        plan = make_plan(target_server, "/delay", query={"ms": "20"}, params={"users": 2, "duration": 8})
        before = target_count(target_server, "/delay")
        run = queued_run(plan)
        mark = worker.lines
        execute_run.apply_async((run.pk,), queue=queue)
        wait_stored(run, 2, timeout=60)
        cut = proxy.arm(moment, table="runs_runsecond")
        assert cut.fired.wait(20), "no batch was committed after the proxy was armed"

        run = wait_ended(run, timeout=60)
        logged = "\n".join(worker.log_since(mark))
        assert run.status == Run.Status.FINISHED, run.error_message
        # The cut really hit a batch of this run: its store failed and was tried again.
        assert f"run {run.pk}: storing" in logged, logged[-3000:]

        served = target_count(target_server, "/delay") - before
        ts = stored_ts(run)
        assert ts == list(range(len(ts))) and len(ts) >= 8
        assert run.total_requests == served
        assert RunSecond.objects.filter(run=run).aggregate(n=Sum("requests"))["n"] == served
        assert EndpointSecond.objects.filter(run=run).aggregate(n=Sum("requests"))["n"] == served
        assert EndpointSummary.objects.get(run=run).requests == served
        if moment == "at":
            # The server had committed what the worker then sent again: the ledger skipped it.
            assert "were already stored (a retried batch); skipped" in logged, logged[-3000:]
    finally:
        worker.stop()
        proxy.close()
