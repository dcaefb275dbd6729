"""Runs through the API on stored results: list filters, status, series, endpoints, errors,
analysis, comparison, baseline, cancel and start refusals."""

from __future__ import annotations

from typing import Any

from runs.models import EndpointSecond, Run, TestPlan
from tests.pages.conftest import HOSTILE, make_run

from .conftest import ApiClient


def test_list_filters_and_paginates(alice_api: ApiClient, plan: TestPlan, finished_run: Run) -> None:
    queued = make_run(plan, status=Run.Status.QUEUED)
    assert [r["id"] for r in alice_api.get("/runs").json()["items"]] == [queued.pk, finished_run.pk]
    assert [r["id"] for r in alice_api.get("/runs", status="finished").json()["items"]] == [finished_run.pk]
    page = alice_api.get("/runs", limit=1, offset=1).json()
    assert page == {"items": [page["items"][0]], "count": 2} and page["items"][0]["id"] == finished_run.pk
    assert alice_api.get("/runs", plan=plan.pk + 1000).json()["count"] == 0
    assert alice_api.get("/runs", status="exploded").status_code == 422
    assert alice_api.get("/runs", limit=0).status_code == 422


def test_status_series_endpoints_errors_from_stored_rows(alice_api: ApiClient, finished_run: Run) -> None:
    run = alice_api.get(f"/runs/{finished_run.pk}").json()
    assert run["status"] == "finished" and run["active"] is False
    assert (run["total_requests"], run["total_failures"], run["p95_ms"]) == (60, 3, 22.5)
    assert run["progress"]["t"] == 2 and run["progress"]["p95_ms"] == 22 and run["progress"]["errors"] == 1
    series = alice_api.get(f"/runs/{finished_run.pk}/series").json()
    assert [p["t"] for p in series["points"]] == [0, 1, 2] and series["points"][1]["p95_ms"] == 21
    window = alice_api.get(f"/runs/{finished_run.pk}/series", **{"from": 1, "to": 1}).json()
    assert [p["t"] for p in window["points"]] == [1]
    EndpointSecond.objects.create(
        run=finished_run, t=0, method="POST", name=HOSTILE, requests=7, failures=1, p95_ms=9
    )
    endpoints = alice_api.get(f"/runs/{finished_run.pk}/endpoints").json()
    assert [(e["endpoint"], e["requests"]) for e in endpoints] == [("GET /", 40), (f"POST {HOSTILE}", 20)]
    one = alice_api.get(f"/runs/{finished_run.pk}/series", endpoint=f"POST {HOSTILE}").json()
    assert one["endpoint"] == f"POST {HOSTILE}" and [(p["t"], p["requests"]) for p in one["points"]] == [
        (0, 7)
    ]
    missing = alice_api.get(f"/runs/{finished_run.pk}/series", endpoint="GET /nope")
    assert missing.status_code == 404 and "no endpoint" in missing.json()["detail"]
    errors = alice_api.get(f"/runs/{finished_run.pk}/errors").json()
    assert errors[0]["count"] == 3 and errors[0]["message"] == "500 Server Error <b>x</b>"


def test_analysis_compare_and_baseline(alice_api: ApiClient, plan: TestPlan, finished_run: Run) -> None:
    analysis = alice_api.get(f"/runs/{finished_run.pk}/analysis")
    assert analysis.status_code == 200, analysis.content
    body = analysis.json()
    assert body["available"] is True and body["capacity"]["kind"] == "constant"
    other = make_run(plan, total_requests=10, last_t=0)
    compare = alice_api.get("/runs/compare", ids=f"{finished_run.pk},{other.pk}", baseline=other.pk)
    assert compare.status_code == 200, compare.content
    assert compare.json()["reference"] == other.pk
    assert [r["id"] for r in compare.json()["runs"]] == [finished_run.pk, other.pk]
    bad = alice_api.get("/runs/compare", ids=str(finished_run.pk))
    assert bad.status_code == 422 and bad.json()["detail"][0]["msg"] == "Choose at least 2 runs to compare."
    assert alice_api.get("/runs/compare", ids=f"{finished_run.pk},999999").status_code == 404
    response = alice_api.post(f"/runs/{finished_run.pk}/baseline")
    assert response.json() == {"plan": plan.pk, "baseline_run": finished_run.pk}
    queued = make_run(plan, status=Run.Status.QUEUED)
    refused = alice_api.post(f"/runs/{queued.pk}/baseline")
    assert refused.status_code == 409 and "only a finished run" in refused.json()["detail"]


def test_cancel_a_queued_run_and_an_ended_one_is_409(
    alice_api: ApiClient, plan: TestPlan, finished_run: Run
) -> None:
    queued = make_run(plan, status=Run.Status.QUEUED)
    response = alice_api.post(f"/runs/{queued.pk}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    ended = alice_api.post(f"/runs/{finished_run.pk}/cancel")
    assert ended.status_code == 409 and "already ended" in ended.json()["detail"]


def test_start_refusals_carry_the_services_message(
    alice_api: ApiClient, plan: TestPlan, settings: Any
) -> None:
    # The concurrent-runs cap (runs.services.caps) is reached: refused now, 409.
    settings.SCALETEST_MAX_CONCURRENT_RUNS = 1
    make_run(plan, status=Run.Status.RUNNING)
    refused = alice_api.post(f"/plans/{plan.pk}/runs")
    assert refused.status_code == 409, refused.content
    assert "at most 1 may run at once" in refused.json()["detail"]
    assert Run.objects.count() == 1
    Run.objects.all().delete()
    assert alice_api.post("/runs", {}).json() == {"detail": "Give plan (an id) or plan_name."}
    assert alice_api.post("/runs", {"plan_name": "No such"}).status_code == 404
    plan.scenario.steps.all().delete()
    empty = alice_api.post("/runs", {"plan_name": plan.name})
    assert empty.status_code == 400 and "no request steps" in empty.json()["detail"]


def test_run_carries_generators_and_threshold_verdicts_and_the_ci_payloads(
    alice_api: ApiClient, carol_api: ApiClient, plan: TestPlan, finished_run: Run
) -> None:
    from runs.core.thresholds import Observed, evaluate, parse_thresholds
    from runs.models import GeneratorSecond
    from runs.services.ci import run_result_payload, run_status_payload

    items = parse_thresholds("p95 < 20\nerror_rate < 10%\nGET /x: p99 < 5")
    results = evaluate(
        items,
        overall=Observed(requests=60, failures=3, seconds=3, percentiles={"p95": 22.5}),
        endpoints={},
        aborted_index=0,
    )
    abort = {
        "index": 0,
        "label": "p95 < 20 ms",
        "from_t": 0,
        "to_t": 2,
        "observed": 22.5,
        "message": "Aborted: …",
    }
    finished_run.snapshot = {**finished_run.snapshot, "thresholds": [t.to_dict() for t in items]}
    finished_run.generators, finished_run.passed = 2, False
    finished_run.threshold_results, finished_run.threshold_abort = results, abort
    finished_run.save()
    for g in range(2):
        for t in range(3):
            GeneratorSecond.objects.create(
                run=finished_run, generator=g, t=t, requests=10, failures=g, cpu_percent=40.5
            )

    body = alice_api.get(f"/runs/{finished_run.pk}").json()
    assert (body["generators"], body["passed"], body["threshold_count"]) == (2, False, 3)
    assert [(r["label"], r["verdict"], r["aborted"]) for r in body["threshold_results"]] == [
        ("p95 < 20 ms", "failed", True),
        ("error_rate < 10%", "passed", False),
        ("GET /x: p99 < 5 ms", "not_evaluable", False),
    ]
    assert body["threshold_abort"] == abort and body["url"] == f"/runs/{finished_run.pk}/"
    # The same dicts as manage.py ci_run reads locally.
    assert body["ci"] == {
        "status": run_status_payload(run=finished_run),
        "result": run_result_payload(run=finished_run),
    }
    generators = alice_api.get(f"/runs/{finished_run.pk}/generators").json()
    assert generators["generators"] == 2 and len(generators["points"]) == 6
    assert generators["points"][3] == {
        "generator": 1,
        "t": 0,
        "requests": 10,
        "failures": 1,
        "cpu_percent": 40.5,
    }
    assert carol_api.get(f"/runs/{finished_run.pk}/generators").status_code == 404
    assert carol_api.get(f"/runs/{finished_run.pk}").status_code == 404


def test_a_run_started_through_the_api_is_marked_and_annotated(alice_api: ApiClient, plan: TestPlan) -> None:
    by_id = alice_api.post(f"/plans/{plan.pk}/runs")
    assert by_id.status_code == 201 and by_id.json()["trigger"] == "api"
    bad = alice_api.post("/runs", {"plan": plan.pk, "tags": ["Not A Tag!"]})
    assert bad.status_code == 422 and "Invalid tag “not a tag!”" in bad.json()["detail"]
    assert alice_api.post("/runs", {"plan": plan.pk, "trigger": "manual"}).status_code == 422
    assert Run.objects.count() == 1
    response = alice_api.post(
        "/runs", {"plan": plan.pk, "trigger": "ci", "version": "v1.4", "tags": ["before-deploy"]}
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["trigger"], body["version"], body["tags"]) == ("ci", "v1.4", ["before-deploy"])
    run = Run.objects.get(pk=body["id"])
    assert (run.trigger, run.version, run.tags) == ("ci", "v1.4", ["before-deploy"])
