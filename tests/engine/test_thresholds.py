"""Thresholds on stored data (verdicts when a run ends, the abort watch's reads) and end to end:
a real worker and Locust child against the demo target, stopped by an abort threshold."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.utils import timezone

from runs.core.ci.driver import exit_code
from runs.core.engine.protocol import EndpointSecond as EndpointMsg
from runs.core.engine.protocol import SecondMessage
from runs.core.histogram import Histogram
from runs.core.thresholds import parse_thresholds
from runs.models import Run
from runs.services.ci import run_result_payload
from runs.services.results import results_ingest
from runs.services.runs import plan_snapshot, run_create, run_finish
from runs.services.thresholds import run_seconds_for_watch

from .helpers import target_count, wait_for

ENDED = (Run.Status.FINISHED, Run.Status.FAILED, Run.Status.CANCELLED)


def _plan_with(make_plan: Any, text: str, *args: Any, **kwargs: Any) -> Any:
    plan = make_plan(*args, **kwargs)
    plan.thresholds = [t.to_dict() for t in parse_thresholds(text)]
    plan.full_clean()
    plan.save()
    return plan


def _running_run(plan: Any) -> Run:
    snapshot = plan_snapshot(plan=plan)
    return Run.objects.create(
        team=plan.team,
        plan=plan,
        plan_name=plan.name,
        snapshot=snapshot,
        planned_seconds=snapshot["profile"]["duration"],
        status=Run.Status.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )


def _hist(values_ms: list[float]) -> Histogram:
    h = Histogram()
    for v in values_ms:
        h.record_ms(v)
    return h


def _second(epoch: int, endpoints: dict[str, tuple[list[float], int]]) -> SecondMessage:
    return SecondMessage(
        epoch,
        2,
        None,
        tuple(
            EndpointMsg("GET", name, len(values), failures, 10, _hist(values).to_dict())
            for name, (values, failures) in endpoints.items()
        ),
    )


def test_verdicts_are_judged_on_the_exact_merged_histograms_when_a_run_finishes(
    db: None, make_plan: Any
) -> None:
    plan = _plan_with(
        make_plan,
        "p90 < 95\np99 < 95\nerror_rate < 2%\nrps >= 40\nGET /slow: max <= 1000\nGET /fast: p50 < 3",
        "http://127.0.0.1:9",
        "/fast",
    )
    run = _running_run(plan)
    start = int(run.started_at.timestamp())  # type: ignore[union-attr]
    # Two seconds: /fast answers 1..50 ms, /slow 51..100 ms (one failure per second).
    fast, slow = [float(v) for v in range(1, 51)], [float(v) for v in range(51, 101)]
    results_ingest(
        run_id=run.pk,
        start_epoch=start,
        seconds=[
            _second(start, {"/fast": (fast, 0), "/slow": (slow, 1)}),
            _second(start + 1, {"/fast": (fast, 0), "/slow": (slow, 1)}),
        ],
    )

    run_finish(run_id=run.pk, status=Run.Status.FINISHED)

    run.refresh_from_db()
    merged = _hist(fast * 2 + slow * 2)
    got = {r["label"]: (r["observed"], r["verdict"]) for r in run.threshold_results}
    assert got == {
        "p90 < 95 ms": (merged.percentile_ms(90), "passed"),  # 90.0 ms
        "p99 < 95 ms": (merged.percentile_ms(99), "failed"),  # 99.0 ms
        "error_rate < 2%": (1.0, "passed"),  # 2 failures of 200 requests
        "rps >= 40 req/s": (100.0, "passed"),  # 200 requests in 2 measured seconds
        "GET /slow: max <= 1000 ms": (100.0, "passed"),
        "GET /fast: p50 < 3 ms": (_hist(fast * 2).percentile_ms(50), "failed"),  # 25 ms
    }
    assert merged.percentile_ms(90) == pytest.approx(90.0, rel=0.001)
    assert run.passed is False
    assert run.status == Run.Status.FINISHED
    assert exit_code(run_result_payload(run=run)) == 1


def test_a_run_without_thresholds_has_no_verdict(db: None, make_plan: Any) -> None:
    run = _running_run(make_plan("http://127.0.0.1:9", "/a"))
    run_finish(run_id=run.pk, status=Run.Status.FINISHED)
    run.refresh_from_db()
    assert run.passed is None and run.threshold_results == []
    assert exit_code(run_result_payload(run=run)) == 0


def test_a_failing_evaluation_still_ends_the_run_and_ci_reads_it_as_an_error(
    db: None, make_plan: Any
) -> None:
    run = _running_run(make_plan("http://127.0.0.1:9", "/a"))
    # A snapshot no parser accepts (written around the validation) makes the evaluation raise.
    Run.objects.filter(pk=run.pk).update(snapshot={**run.snapshot, "thresholds": [{"metric": "p95"}]})

    run_finish(run_id=run.pk, status=Run.Status.FINISHED)

    run.refresh_from_db()
    assert run.status == Run.Status.FINISHED and run.finished_at is not None
    assert run.passed is False and run.threshold_results == []
    payload = run_result_payload(run=run)
    assert payload["threshold_count"] == 1
    assert exit_code(payload) == 2


def test_the_watch_reads_stored_seconds_with_p90_from_the_histogram(db: None, make_plan: Any) -> None:
    run = _running_run(make_plan("http://127.0.0.1:9", "/a"))
    start = int(run.started_at.timestamp())  # type: ignore[union-attr]
    values = [float(v) for v in range(1, 101)]
    results_ingest(
        run_id=run.pk,
        start_epoch=start,
        seconds=[
            _second(start, {"/a": (values, 0)}),
            _second(start + 1, {"/a": (values, 3), "/b": ([5.0], 0)}),
            _second(start + 2, {"/b": ([5.0], 0)}),
        ],
    )
    overall, endpoints = run_seconds_for_watch(
        run_id=run.pk, after=0, upto=1, endpoints={("GET", "/a")}, with_p90=True
    )
    assert [(s.t, s.requests, s.failures) for s in overall] == [(1, 101, 3)]
    assert overall[0].percentiles["p95"] == _hist([*values, 5.0]).percentile_ms(95)  # both endpoints
    assert endpoints[("GET", "/a")][0].percentiles["p90"] == pytest.approx(90.0, rel=0.001)
    assert list(endpoints) == [("GET", "/a")]


def _wait_ended(run: Run, timeout: float) -> Run:
    wait_for(lambda: Run.objects.get(pk=run.pk).status in ENDED, timeout=timeout, what=f"run {run.pk} to end")
    run.refresh_from_db()
    return run


@pytest.mark.slow
def test_an_impossible_abort_threshold_stops_a_30_s_run_within_seconds(
    transactional_db: None, live_worker: Any, target_server: str, make_plan: Any
) -> None:
    plan = _plan_with(
        make_plan,
        "p95 < 1 abort 2s\nerror_rate < 50%",
        target_server,
        "/delay",
        query={"ms": "20"},
        params={"users": 2, "duration": 30},
    )
    before = target_count(target_server, "/delay")
    began = time.monotonic()

    run = _wait_ended(run_create(plan=plan), timeout=25)

    took = time.monotonic() - began
    print(f"aborted run: ended {took:.1f} s after run_create, {run.last_t + 1} seconds stored")
    assert took < 15, f"the run took {took:.1f} s"
    assert run.status == Run.Status.FINISHED
    assert run.error_message.startswith("Aborted: p95 < 1 ms crossed for 2 s"), run.error_message
    assert run.threshold_abort is not None and run.threshold_abort["index"] == 0
    assert run.last_t < 12
    assert run.passed is False
    first, second = run.threshold_results
    assert (first["verdict"], first["aborted"], second["verdict"]) == ("failed", True, "passed")
    assert first["observed"] == pytest.approx(run.p95_ms)
    served = target_count(target_server, "/delay")
    assert run.total_requests == served - before  # nothing measured was lost
    time.sleep(1.0)
    assert target_count(target_server, "/delay") == served  # and the load has stopped


@pytest.mark.slow
def test_a_passing_abort_threshold_lets_the_run_reach_its_end(
    transactional_db: None, live_worker: Any, target_server: str, make_plan: Any
) -> None:
    plan = _plan_with(
        make_plan,
        "p95 < 5000 abort 2s\nrps >= 1 abort 2s",
        target_server,
        "/delay",
        query={"ms": "20"},
        params={"users": 2, "duration": 5},
    )
    run = _wait_ended(run_create(plan=plan), timeout=30)
    assert run.status == Run.Status.FINISHED, run.error_message
    assert run.error_message == "" and run.threshold_abort is None
    assert run.last_t >= 4
    assert run.passed is True
    assert [r["verdict"] for r in run.threshold_results] == ["passed", "passed"]
