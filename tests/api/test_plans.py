"""Plans' thresholds and generators through the API: the plan form's parsing and messages,
text or stored list, and nothing saved when refused."""

from __future__ import annotations

from typing import Any

from runs.models import LoadProfile, TestPlan

from .conftest import ApiClient


def _locs(response: Any) -> dict[tuple[Any, ...], str]:
    assert response.status_code == 422, response.content
    return {tuple(item["loc"]): item["msg"] for item in response.json()["detail"]}


def _body(plan: TestPlan, **extra: Any) -> dict[str, Any]:
    return {
        "name": "Gate",
        "target": plan.target_id,
        "scenario": plan.scenario_id,
        "profile": plan.profile_id,
        **extra,
    }


def test_thresholds_as_text_are_parsed_and_returned_as_list_and_text(
    alice_api: ApiClient, plan: TestPlan
) -> None:
    created = alice_api.post(
        "/plans",
        _body(plan, thresholds="p95 < 500\nerror_rate < 1%  # comment\nGET home: p99 < 0.8s abort 10s"),
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["thresholds"] == [
        {
            "metric": "p95",
            "op": "<",
            "value": 500.0,
            "method": None,
            "name": None,
            "abort_after_seconds": None,
        },
        {
            "metric": "error_rate",
            "op": "<",
            "value": 1.0,
            "method": None,
            "name": None,
            "abort_after_seconds": None,
        },
        {
            "metric": "p99",
            "op": "<",
            "value": 800.0,
            "method": "GET",
            "name": "home",
            "abort_after_seconds": 10,
        },
    ]
    assert body["thresholds_text"] == "p95 < 500\nerror_rate < 1%\nGET home: p99 < 800 abort 10s"
    assert TestPlan.objects.get(pk=body["id"]).thresholds == body["thresholds"]
    assert body["generators"] == 1
    # The stored list form is accepted as it comes back (a GET, edit, PUT round trip), values exact.
    items = body["thresholds"][:1] + [{"metric": "p50", "op": "<=", "value": 0.0012345678}]
    put = alice_api.put(f"/plans/{body['id']}", _body(plan, thresholds=items))
    assert put.status_code == 200, put.content
    assert [t["value"] for t in put.json()["thresholds"]] == [500.0, 0.0012345678]
    # PATCH without thresholds keeps them; an empty text clears them.
    assert len(alice_api.patch(f"/plans/{body['id']}", {"notes": "x"}).json()["thresholds"]) == 2
    assert alice_api.patch(f"/plans/{body['id']}", {"thresholds": ""}).json()["thresholds"] == []


def test_bad_thresholds_are_422_with_the_forms_messages_and_change_nothing(
    alice_api: ApiClient, plan: TestPlan
) -> None:
    errors = _locs(alice_api.post("/plans", _body(plan, thresholds="p95 < 500\np95 = 3")))
    assert errors[("body", "thresholds")].startswith("Line 2 (“p95 = 3”): a threshold is a bound")
    errors = _locs(alice_api.post("/plans", _body(plan, thresholds="GET /nope: p95 < 500")))
    assert errors[("body", "thresholds")] == (
        "No step of the scenario “Browse” is named “GET /nope”; its endpoints are: GET home, POST /cart."
    )
    errors = _locs(
        alice_api.post("/plans", _body(plan, thresholds=[{"metric": "p95", "op": "<", "value": "fast"}]))
    )
    assert errors[("body", "thresholds")] == "Threshold 1: value must be a number."
    errors = _locs(
        alice_api.post("/plans", _body(plan, thresholds=[{"metric": "rps", "op": "<", "value": 1}]))
    )
    assert (
        errors[("body", "thresholds")]
        == "Threshold 1: throughput is a lower bound: write rps >= N (or rps > N)."
    )
    # Not a string nor a list: the schema's own 422.
    assert alice_api.post("/plans", _body(plan, thresholds={"p95": 1})).status_code == 422
    patched = alice_api.patch(f"/plans/{plan.pk}", {"thresholds": "p95 <"})
    assert ("body", "thresholds") in _locs(patched)
    assert TestPlan.objects.count() == 1 and TestPlan.objects.get().thresholds == []


def test_generators_range_and_arrival_rate_profiles_use_one(
    alice_api: ApiClient, plan: TestPlan, settings: Any
) -> None:
    settings.SCALETEST_MAX_GENERATORS = 4
    created = alice_api.post("/plans", _body(plan, generators=3))
    assert created.status_code == 201 and created.json()["generators"] == 3
    for bad in (0, 5, -1):
        errors = _locs(alice_api.post("/plans", _body(plan, name="G", generators=bad)))
        assert errors[("body", "generators")] == "Enter a number of generators from 1 to 4.", bad
    open_model = LoadProfile.objects.create(
        team=plan.team,
        name="Arrivals",
        kind="arrival_constant",
        params={"rate": 5, "duration": 10, "max_in_flight": 10},
    )
    errors = _locs(alice_api.patch(f"/plans/{created.json()['id']}", {"profile": open_model.pk}))
    assert errors[("body", "generators")] == (
        "Arrival-rate profiles run on one generator; set 1 or use a users profile."
    )
    fixed = alice_api.patch(f"/plans/{created.json()['id']}", {"profile": open_model.pk, "generators": 1})
    assert fixed.status_code == 200 and fixed.json()["generators"] == 1
    assert TestPlan.objects.filter(generators=3).count() == 0


def test_another_teams_plan_is_still_404(carol: Any, plan: TestPlan) -> None:
    from .conftest import api_for

    carol_api = api_for(carol)
    assert carol_api.patch(f"/plans/{plan.pk}", {"thresholds": "p95 < 1"}).status_code == 404
    assert carol_api.put(f"/plans/{plan.pk}", _body(plan, generators=2)).status_code == 404
    assert TestPlan.objects.get().thresholds == []
