"""The retention policy: old runs' per-second rows rolled up to 10 s, exactly
(runs.services.retention and ``manage.py retention``), on seeded staircase runs."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone

from runs.core.histogram import Histogram
from runs.models import AuditEntry, EndpointSecond, EndpointSummary, Run, RunAnalysis, RunSecond
from runs.selectors.histograms import second_histograms
from runs.services.analysis import (
    ANALYSIS_ROLLED_UP,
    ANALYSIS_VERSION,
    run_analyses_compare_digests,
    run_analyses_ensure,
)
from runs.services.baseline import plan_set_baseline
from runs.services.retention import retention_candidates
from tests.pages.test_analysis_pages import make_staircase_plan, seed_run

pytestmark = pytest.mark.django_db

STEP_SECONDS = 31  # 5 steps: 155 s, so the last 10 s window holds 5 seconds


def streamed(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def aged(run: Run, days: int) -> Run:
    Run.objects.filter(pk=run.pk).update(finished_at=timezone.now() - dt.timedelta(days=days))
    run.refresh_from_db()
    return run


def whole_run(run: Run) -> dict[str, Any]:
    run.refresh_from_db()
    return {
        "run": (
            run.total_requests,
            run.total_failures,
            run.p50_ms,
            run.p95_ms,
            run.p99_ms,
            run.max_ms,
            run.last_t,
        ),
        "thresholds": (run.passed, run.threshold_results),
        "summaries": list(EndpointSummary.objects.filter(run=run).order_by("method", "name").values()),
        "analysis": RunAnalysis.objects.filter(run=run).values_list("version", "data").first(),
    }


def window_sums(run: Run) -> dict[tuple[Any, ...], tuple[int, int, bytes]]:
    """Requests, failures and the merged histogram of each 10 s window, per endpoint and overall."""
    out: dict[tuple[Any, ...], list[Any]] = {}
    for t, method, name, requests, failures, blob in EndpointSecond.objects.filter(run=run).values_list(
        "t", "method", "name", "requests", "failures", "histogram"
    ):
        acc = out.setdefault((t // 10, method, name), [0, 0, Histogram()])
        acc[0] += requests
        acc[1] += failures
        acc[2].merge(Histogram.load(blob))
    rows = list(RunSecond.objects.filter(run=run).order_by("t").values_list("t", "requests", "histogram"))
    for (t, requests, _), h in zip(rows, second_histograms(run_id=run.pk, rows=rows), strict=True):
        acc = out.setdefault((t // 10,), [0, 0, Histogram()])
        acc[0] += requests
        acc[2].merge(h)
    return {k: (v[0], v[1], v[2].to_bytes()) for k, v in out.items()}


def test_old_runs_roll_up_exactly_and_pinned_and_baseline_runs_stay_whole(alice: Any) -> None:
    plan = make_staircase_plan(alice)
    old = seed_run(plan, step_seconds=STEP_SECONDS, seed=1)
    pinned = seed_run(plan, step_seconds=STEP_SECONDS, seed=2)
    baseline = seed_run(plan, step_seconds=STEP_SECONDS, seed=3)
    recent = seed_run(plan, step_seconds=STEP_SECONDS, seed=4)
    run_analyses_ensure(ids=[old.pk, pinned.pk, baseline.pk, recent.pk])
    for run in (old, pinned, baseline):
        aged(run, 40)
    aged(recent, 5)
    Run.objects.filter(pk=pinned.pk).update(pinned=True)
    plan_set_baseline(run=baseline)
    before = {run.pk: (whole_run(run), window_sums(run)) for run in (old, pinned, baseline, recent)}
    rows_before = {
        run.pk: (RunSecond.objects.filter(run=run).count(), EndpointSecond.objects.filter(run=run).count())
        for run in (old, pinned, baseline, recent)
    }
    assert rows_before[old.pk] == (155, 310)

    # A dry run says what it would do and changes nothing.
    out = StringIO()
    call_command("retention", "--days", "30", "--dry-run", stdout=out)
    text = out.getvalue()
    assert f"Would roll up Run #{old.pk}" in text and "seconds 155 → 16, endpoint_seconds 310 → 32" in text
    assert f"#{pinned.pk} " not in text and f"#{baseline.pk} " not in text and f"#{recent.pk} " not in text
    assert "1 run(s) older than 30 day(s) would be rolled up" in text
    assert RunSecond.objects.filter(run=old).count() == 155
    assert Run.objects.get(pk=old.pk).resolution_s == 1

    out = StringIO()
    call_command("retention", "--days", "30", stdout=out)
    assert f"Rolled up Run #{old.pk} " in out.getvalue()
    assert "seconds 155 → 16, endpoint_seconds 310 → 32, generator_seconds 0 → 0" in out.getvalue()
    old.refresh_from_db()
    assert old.resolution_s == 10 and old.rolled_up_at is not None and old.rolled_up_after_days == 40
    # Rows ÷ 10 (the last window holds the run's last 5 seconds).
    assert list(RunSecond.objects.filter(run=old).values_list("t", flat=True)) == list(range(0, 160, 10))
    assert EndpointSecond.objects.filter(run=old).count() == 32
    # Whole-run figures identical; each window's sums and merged histogram identical.
    assert whole_run(old) == before[old.pk][0]
    assert window_sums(old) == before[old.pk][1]
    assert RunSecond.objects.filter(run=old).aggregate(n=Sum("requests"))["n"] == old.total_requests
    # Stored percentiles come from the merged window histogram.
    row = RunSecond.objects.filter(run=old, t=20).values("p95_ms", "histogram").get()
    assert row["p95_ms"] == Histogram.load(row["histogram"]).percentile_ms(95)
    assert AuditEntry.objects.filter(action="run.rollup", object_id=str(old.pk)).count() == 1

    for run in (pinned, baseline, recent):
        assert (
            RunSecond.objects.filter(run=run).count(),
            EndpointSecond.objects.filter(run=run).count(),
        ) == rows_before[run.pk]
        assert Run.objects.get(pk=run.pk).resolution_s == 1
        assert whole_run(run) == before[run.pk][0]

    # A second invocation changes nothing.
    snapshot = list(RunSecond.objects.filter(run=old).order_by("t").values())
    out = StringIO()
    call_command("retention", "--days", "30", stdout=out)
    assert "0 run(s) older than 30 day(s) were rolled up" in out.getvalue()
    assert list(RunSecond.objects.filter(run=old).order_by("t").values()) == snapshot
    assert not retention_candidates(days=30).exists()

    # The stored analysis is kept (a rolled run is not re-analysed from 10 s rows).
    assert run_analyses_ensure(ids=[old.pk])[old.pk] == before[old.pk][0]["analysis"][1]
    # Even after an upgrade makes its version stale: the same analysis, on the run's pages and
    # the comparison's, never one rebuilt from 10 s rows.
    RunAnalysis.objects.filter(run=old).update(version=ANALYSIS_VERSION - 1)
    assert run_analyses_ensure(ids=[old.pk])[old.pk] == before[old.pk][0]["analysis"][1]
    digest = run_analyses_compare_digests(ids=[old.pk])[old.pk]
    assert digest.data["steps"] == before[old.pk][0]["analysis"][1]["steps"] and digest.data["steps"]
    assert RunAnalysis.objects.get(run=old).version == ANALYSIS_VERSION - 1
    # Had none been stored, the page says why there is none (no steps from 10 s rows).
    RunAnalysis.objects.filter(run=old).delete()
    assert run_analyses_ensure(ids=[old.pk])[old.pk]["error"] == ANALYSIS_ROLLED_UP


def test_retention_is_off_at_zero_days(alice: Any, settings: Any) -> None:
    settings.SCALETEST_RETENTION_DAYS = 0
    run = aged(seed_run(make_staircase_plan(alice), step_seconds=10, seed=5), 400)
    out = StringIO()
    call_command("retention", stdout=out)
    assert "Retention is off" in out.getvalue()
    assert Run.objects.get(pk=run.pk).resolution_s == 1


def test_a_rolled_runs_exports_overlays_and_api_give_rates_per_second(alice: Any) -> None:
    import csv
    import io
    import json

    from django.test import Client
    from django.urls import reverse

    from runs.selectors.runs import runs_series_window
    from runs.services.retention import run_rollup
    from tests.api.conftest import api_for

    run = seed_run(make_staircase_plan(alice), step_seconds=STEP_SECONDS, seed=6)
    per_second = dict(RunSecond.objects.filter(run=run).values_list("t", "requests"))
    expected = {
        start: sum(n for t, n in per_second.items() if start <= t < start + 10) / min(10, 155 - start)
        for start in range(0, 160, 10)
    }
    assert run_rollup(run=aged(run, 40)).rolled
    run.refresh_from_db()

    client = Client()
    client.force_login(alice)
    response = client.get(reverse("runs-export-csv", args=[run.pk]))
    rows = list(csv.DictReader(io.StringIO(streamed(response).decode())))
    overall = {int(r["t"]): float(r["rps"]) for r in rows if r["name"] == "(all endpoints)"}
    assert overall == pytest.approx(expected)
    assert sum(int(r["requests"]) for r in rows if r["name"] == "(all endpoints)") == run.total_requests

    response = client.get(reverse("runs-export-json", args=[run.pk]))
    doc = json.loads(streamed(response))
    assert doc["series"]["interval_seconds"] == 10
    assert (doc["run"]["resolution_s"], doc["run"]["rolled_up_after_days"]) == (10, 40)

    series = runs_series_window(runs=Run.objects.all(), ids=[run.pk], lo=0, hi=run.last_t)
    assert series is not None and dict(zip(series[0]["t"], series[0]["rps"], strict=True)) == pytest.approx(
        expected
    )

    api = api_for(alice)
    detail = api.get(f"/runs/{run.pk}").json()
    assert (detail["resolution_s"], detail["pinned"]) == (10, False)
    assert detail["progress"]["rps"] == pytest.approx(expected[150])
    assert api.get(f"/runs/{run.pk}/series").json()["interval_seconds"] == 10


def test_the_daily_task_uses_the_setting(alice: Any, settings: Any) -> None:
    from runs.tasks import retention_rollup

    run = aged(seed_run(make_staircase_plan(alice), step_seconds=10, seed=7), 10)
    settings.SCALETEST_RETENTION_DAYS = 0
    assert retention_rollup() == 0
    settings.SCALETEST_RETENTION_DAYS = 30
    assert retention_rollup() == 0  # 10 days old: kept
    settings.SCALETEST_RETENTION_DAYS = 7
    assert retention_rollup() == 1
    assert Run.objects.get(pk=run.pk).resolution_s == 10
    assert "retention-rollup" in settings.CELERY_BEAT_SCHEDULE
