"""Targets, scenarios, profiles and plans through the API: the pages' own checks, write-only
secrets, the team of new objects, and 409 when a plan still uses what is deleted."""

from __future__ import annotations

from typing import Any

from runs.models import LoadProfile, Membership, Scenario, Target, Team, TestPlan

from .conftest import ApiClient


def _locs(response: Any) -> dict[tuple[Any, ...], str]:
    assert response.status_code == 422, response.content
    return {tuple(item["loc"]): item["msg"] for item in response.json()["detail"]}


def test_targets_crud_with_write_only_secrets(alice_api: ApiClient, team: Team) -> None:
    created = alice_api.post(
        "/targets",
        {
            "name": "Shop",
            "base_url": "http://127.0.0.1:8089/",
            "headers": {"Accept": "application/json"},
            "auth_type": "basic",
            "auth_username": "u",
            "auth_password": "s3cret-password",
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["team"] == team.pk and body["base_url"] == "http://127.0.0.1:8089"  # the form's normalisation
    assert body["has_auth_password"] is True and body["has_auth_token"] is False
    assert "s3cret" not in created.content.decode() and "auth_password" not in body
    pk = body["id"]
    # PATCH keeps the saved password when none is sent; PUT too.
    assert alice_api.patch(f"/targets/{pk}", {"name": "Shop 2"}).json()["has_auth_password"] is True
    put = alice_api.put(
        f"/targets/{pk}",
        {"name": "Shop 3", "base_url": "http://127.0.0.1:8089", "auth_type": "basic", "auth_username": "u"},
    )
    assert put.status_code == 200 and put.json()["name"] == "Shop 3"
    assert Target.objects.get(pk=pk).auth_password == "s3cret-password"
    assert "s3cret" not in alice_api.get(f"/targets/{pk}").content.decode()
    listed = alice_api.get("/targets").json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == pk
    assert alice_api.delete(f"/targets/{pk}").status_code == 204
    assert not Target.objects.filter(pk=pk).exists()


def test_target_validation_is_the_forms_and_changes_nothing(alice_api: ApiClient, team: Team) -> None:
    errors = _locs(
        alice_api.post("/targets", {"name": "x", "base_url": "ftp://example.com", "auth_type": "bearer"})
    )
    assert errors[("body", "base_url")] == "Enter an http:// or https:// URL."
    assert errors[("body", "auth_token")] == "Bearer authentication needs a token."
    # Cloud metadata is refused as on the page (runs.core.safety).
    errors = _locs(alice_api.post("/targets", {"name": "x", "base_url": "http://169.254.169.254"}))
    assert ("body", "base_url") in errors
    # Types: ninja's own 422.
    response = alice_api.post(
        "/targets", {"name": "x", "base_url": "http://127.0.0.1:8089", "timeout_seconds": "soon"}
    )
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][-1] == "timeout_seconds"
    assert not Target.objects.exists()


def test_scenarios_with_steps_validated_like_the_page(alice_api: ApiClient) -> None:
    steps = [
        {"name": "home", "path": "/", "expected_statuses": "200-299"},
        {"method": "POST", "path": "/cart", "body_type": "json", "body": '{"id": 1}', "weight": 3},
    ]
    created = alice_api.post("/scenarios", {"name": "Browse", "think_time_max": 0.5, "steps": steps})
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert [s["path"] for s in created.json()["steps"]] == ["/", "/cart"]
    assert created.json()["steps"][1]["weight"] == 3
    bad = alice_api.put(
        f"/scenarios/{pk}",
        {
            "name": "Browse",
            "think_time_min": 2,
            "think_time_max": 1,
            "steps": [
                {"path": "no-slash"},
                {"path": "/", "expected_statuses": "299-200"},
                {"method": "GET", "body_type": "json", "body": "{"},
            ],
        },
    )
    errors = _locs(bad)
    assert errors[("body", "think_time_max")] == "Must be at least the minimum (2 s)."
    assert errors[("body", "steps", 0, "path")] == "The path must start with “/”, e.g. /api/items."
    assert (
        errors[("body", "steps", 1, "expected_statuses")] == "The range 299-200 is backwards; write 200-299."
    )
    assert ("body", "steps", 2, "body") in errors and ("body", "steps", 2, "body_type") in errors
    assert Scenario.objects.get(pk=pk).steps.count() == 2
    assert alice_api.post("/scenarios", {"name": "Empty", "steps": []}).status_code == 422
    patched = alice_api.patch(f"/scenarios/{pk}", {"steps": [{"path": "/only"}]})
    assert [s["path"] for s in patched.json()["steps"]] == ["/only"] and patched.json()["name"] == "Browse"


def test_profiles_validated_by_validate_profile(alice_api: ApiClient) -> None:
    created = alice_api.post(
        "/profiles", {"name": "Ramp", "kind": "ramp", "params": {"to_users": 10, "duration": 30}}
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["params"] == {"from_users": 0, "to_users": 10, "duration": 30, "hold": 0}
    assert body["duration"] == 30 and body["peak_users"] == 10
    errors = _locs(
        alice_api.put(
            f"/profiles/{body['id']}",
            {"name": "Ramp", "kind": "constant", "params": {"users": "many", "duration": 10**9}},
        )
    )
    assert errors[("body", "params", "users")] == "Users must be a number."
    stages = _locs(
        alice_api.post("/profiles", {"name": "S", "kind": "stages", "params": {"stages": [{"x": 1}]}})
    )
    assert stages[("body", "params", "stages")].startswith("Stage 1:")
    assert alice_api.post("/profiles", {"name": "S", "kind": "nope", "params": {}}).status_code == 422
    assert LoadProfile.objects.count() == 1
    patched = alice_api.patch(f"/profiles/{body['id']}", {"params": {"to_users": 20, "duration": 30}})
    assert patched.json()["peak_users"] == 20 and patched.json()["kind"] == "ramp"


def test_plans_use_their_teams_parts_and_deleting_a_used_part_is_409(
    alice_api: ApiClient, plan: TestPlan, carol: Any, alice: Any
) -> None:
    body = {
        "name": "Second",
        "target": plan.target_id,
        "scenario": plan.scenario_id,
        "profile": plan.profile_id,
    }
    created = alice_api.post("/plans", body)
    assert created.status_code == 201 and created.json()["team"] == plan.team_id
    new_id = created.json()["id"]
    for path in (
        f"/targets/{plan.target_id}",
        f"/scenarios/{plan.scenario_id}",
        f"/profiles/{plan.profile_id}",
    ):
        response = alice_api.delete(path)
        assert response.status_code == 409, path
        assert "is used by the test plans “Second”, “Smoke”" in response.json()["detail"]
    # Another team's parts are not one of the choices, even in a team alice belongs to.
    carols = Team.objects.get(memberships__user=carol)
    Membership.objects.create(team=carols, user=alice, role="editor")
    errors = _locs(alice_api.post("/plans", {**body, "team": carols.pk}))
    assert errors[("body", "target")].startswith("Select a valid choice")
    assert alice_api.get("/plans?name=Second").json()["items"][0]["id"] == new_id
    assert alice_api.patch(f"/plans/{new_id}", {"notes": "n"}).json()["notes"] == "n"
    assert alice_api.delete(f"/plans/{new_id}").status_code == 204
    assert TestPlan.objects.filter(team=plan.team).count() == 1


def test_new_objects_go_to_the_first_team_or_the_named_one(
    alice_api: ApiClient, alice: Any, team: Team, carol: Any
) -> None:
    carols = Team.objects.get(memberships__user=carol)
    Membership.objects.create(team=carols, user=alice, role="viewer")
    target = {"name": "T", "base_url": "http://127.0.0.1:8089"}
    assert alice_api.post("/targets", target).json()["team"] == team.pk  # "Alice's team" < "Carol's team"
    response = alice_api.post("/targets", {**target, "team": carols.pk})
    assert response.status_code == 403 and "needs editor" in response.json()["detail"]
    Membership.objects.filter(team=carols, user=alice).update(role="editor")
    assert alice_api.post("/targets", {**target, "team": carols.pk}).json()["team"] == carols.pk
    assert alice_api.get(f"/targets?team={carols.pk}").json()["count"] == 1


def test_bad_input_is_a_clear_4xx_never_a_500(alice_api: ApiClient, plan: TestPlan) -> None:
    """Found while fuzzing: NUL characters reached PostgreSQL (500); unknown paths answered HTML."""
    nul = alice_api.post("/targets", {"name": "a\x00", "base_url": "http://127.0.0.1:8089"})
    assert nul.status_code == 422 and "NUL" in nul.json()["detail"][0]["msg"]
    step = alice_api.post("/scenarios", {"name": "a", "steps": [{"path": "/", "headers": {"x": "\x00"}}]})
    assert step.status_code == 422
    assert alice_api.post("/runs", {"plan_name": "\x00"}).status_code == 422
    assert alice_api.get("/plans", name="a\x00").status_code == 422
    response = alice_api.client.post(
        "/api/v1/targets", data="{nope", content_type="application/json", headers=alice_api.headers
    )
    assert response.status_code == 400 and response.json()["detail"].startswith("The body is not valid JSON")
    assert alice_api.get("/runs/-1").json() == {"detail": "Not found."}
    assert alice_api.get("/plans/99999999999999999999").status_code == 404
    assert not Target.objects.exclude(pk=plan.target_id).exists() and Scenario.objects.count() == 1
