"""Team scoping through the API: carol (another team) gets a 404 for every one of alice's objects
and never sees them in lists; victor (viewer) reads but every write is a 403."""

from __future__ import annotations

from typing import Any

from runs.models import LoadProfile, Run, Scenario, Target, TestPlan
from tests.pages.conftest import make_run

from .conftest import ApiClient

TARGET = {"name": "T", "base_url": "http://127.0.0.1:8089"}
SCENARIO = {"name": "S", "steps": [{"path": "/"}]}
PROFILE = {"name": "P", "kind": "constant", "params": {"users": 1, "duration": 2}}


def object_calls(plan: TestPlan, run: Run) -> list[tuple[str, str, Any]]:
    """(method, path, body) of every endpoint that names one of alice's objects."""
    other = make_run(plan)
    plan_body = {
        "name": "x",
        "target": plan.target_id,
        "scenario": plan.scenario_id,
        "profile": plan.profile_id,
    }
    return [
        ("get", f"/teams/{plan.team_id}/members", None),
        ("post", f"/teams/{plan.team_id}/members", {"username": "carol", "role": "admin"}),
        ("get", f"/targets/{plan.target_id}", None),
        ("put", f"/targets/{plan.target_id}", TARGET),
        ("patch", f"/targets/{plan.target_id}", {"name": "x"}),
        ("delete", f"/targets/{plan.target_id}", None),
        ("get", f"/scenarios/{plan.scenario_id}", None),
        ("put", f"/scenarios/{plan.scenario_id}", SCENARIO),
        ("patch", f"/scenarios/{plan.scenario_id}", {"name": "x"}),
        ("delete", f"/scenarios/{plan.scenario_id}", None),
        ("get", f"/profiles/{plan.profile_id}", None),
        ("put", f"/profiles/{plan.profile_id}", PROFILE),
        ("patch", f"/profiles/{plan.profile_id}", {"name": "x"}),
        ("delete", f"/profiles/{plan.profile_id}", None),
        ("get", f"/plans/{plan.pk}", None),
        ("put", f"/plans/{plan.pk}", plan_body),
        ("patch", f"/plans/{plan.pk}", {"name": "x"}),
        ("delete", f"/plans/{plan.pk}", None),
        ("post", f"/plans/{plan.pk}/runs", {}),
        ("post", "/runs", {"plan": plan.pk}),
        ("get", f"/runs/{run.pk}", None),
        ("post", f"/runs/{run.pk}/cancel", {}),
        ("post", f"/runs/{run.pk}/baseline", {}),
        ("get", f"/runs/{run.pk}/series", None),
        ("get", f"/runs/{run.pk}/series?endpoint=GET%20/", None),
        ("get", f"/runs/{run.pk}/endpoints", None),
        ("get", f"/runs/{run.pk}/errors", None),
        ("get", f"/runs/{run.pk}/analysis", None),
        ("get", f"/runs/compare?ids={run.pk},{other.pk}", None),
    ]


def _call(client: ApiClient, method: str, path: str, body: Any) -> Any:
    if method in ("get", "delete"):
        return client.call(method, path)
    return client.call(method, path, body)


def _snapshot() -> list[Any]:
    return [
        list(Target.objects.values()),
        list(Scenario.objects.values()),
        list(LoadProfile.objects.values()),
        list(TestPlan.objects.values()),
        list(Run.objects.order_by("pk").values("pk", "status", "cancel_requested")),
    ]


def test_another_teams_objects_are_404_on_every_endpoint_and_nothing_changes(
    plan: TestPlan, finished_run: Run, carol_api: ApiClient
) -> None:
    calls = object_calls(plan, finished_run)
    before = _snapshot()
    for method, path, body in calls:
        response = _call(carol_api, method, path, body)
        assert response.status_code == 404, (method, path, response.status_code, response.content)
        assert set(response.json()) == {"detail"}
    # A missing id answers the same.
    missing = carol_api.get("/plans/999999")
    assert missing.status_code == 404
    assert _snapshot() == before
    # By name: alice's plan does not exist for carol.
    assert carol_api.post("/runs", {"plan_name": plan.name}).status_code == 404
    # Her own team as the target of a new object in alice's team: 404 for alice's team id.
    assert carol_api.post("/targets", {**TARGET, "team": plan.team_id}).status_code == 404
    assert carol_api.get(f"/targets?team={plan.team_id}").status_code == 404


def test_lists_never_show_another_teams_objects(
    plan: TestPlan, finished_run: Run, carol_api: ApiClient, alice_api: ApiClient
) -> None:
    for path in ("/targets", "/scenarios", "/profiles", "/plans", "/runs", f"/runs?plan={plan.pk}"):
        theirs = carol_api.get(path).json()
        mine = alice_api.get(path).json()
        assert theirs == {"items": [], "count": 0}, path
        assert mine["count"] >= 1, path
    assert [t["name"] for t in carol_api.get("/teams").json()] == ["Carol's team"]


def test_a_viewer_reads_but_every_write_is_403(
    plan: TestPlan, finished_run: Run, victor_api: ApiClient
) -> None:
    calls = object_calls(plan, finished_run)
    before = _snapshot()
    for method, path, body in calls:
        response = _call(victor_api, method, path, body)
        expected = 200 if method == "get" else 403
        assert response.status_code == expected, (method, path, response.status_code, response.content)
    for path, body in (
        ("/targets", TARGET),
        ("/scenarios", SCENARIO),
        ("/profiles", PROFILE),
        (
            "/plans",
            {"name": "x", "target": plan.target_id, "scenario": plan.scenario_id, "profile": plan.profile_id},
        ),
    ):
        response = victor_api.post(path, body)
        assert response.status_code == 403 and "needs editor" in response.json()["detail"], path
    assert _snapshot() == before


def test_an_editor_writes_but_only_admins_manage_members(
    plan: TestPlan, bob_api: ApiClient, alice_api: ApiClient, carol: Any
) -> None:
    assert bob_api.patch(f"/targets/{plan.target_id}", {"name": "Renamed"}).status_code == 200
    assert bob_api.post(f"/teams/{plan.team_id}/members", {"username": "carol"}).status_code == 403
    added = alice_api.post(f"/teams/{plan.team_id}/members", {"username": "carol", "role": "viewer"})
    assert added.status_code == 201 and added.json()["role"] == "viewer"
    assert alice_api.post(f"/teams/{plan.team_id}/members", {"username": "nobody"}).json() == {
        "detail": "There is no user “nobody”. An operator creates accounts in the admin."
    }
    members = {m["username"]: m for m in alice_api.get(f"/teams/{plan.team_id}/members").json()}
    assert set(members) == {"alice", "bob", "carol"}
    alice_id = members["alice"]["id"]
    response = alice_api.patch(f"/teams/{plan.team_id}/members/{alice_id}", {"role": "viewer"})
    assert response.status_code == 409 and "at least one admin" in response.json()["detail"]
    assert alice_api.delete(f"/teams/{plan.team_id}/members/{members['carol']['id']}").status_code == 204
