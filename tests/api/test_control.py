"""The live control endpoints: change a running run's level, stop it early, read its timeline."""

from __future__ import annotations

from typing import Any

from runs.models import Run, RunControl, TestPlan
from tests.pages.conftest import make_run

from .conftest import ApiClient


def test_an_editor_changes_the_users_and_reads_the_timeline(plan: TestPlan, bob_api: ApiClient) -> None:
    run = make_run(plan, status=Run.Status.RUNNING)
    response = bob_api.post(f"/runs/{run.pk}/control", {"users": 7})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["kind"], body["value"], body["previous"], body["state"]) == ("users", 7.0, 3.0, "pending")
    timeline = bob_api.get(f"/runs/{run.pk}/timeline").json()
    assert [item["id"] for item in timeline["items"]] == [body["id"]]


def test_bad_requests_say_what_is_wrong_and_record_nothing(
    plan: TestPlan, bob_api: ApiClient, victor_api: ApiClient, carol_api: ApiClient
) -> None:
    run = make_run(plan, status=Run.Status.RUNNING)
    cases: list[tuple[ApiClient, Any, int, str]] = [
        (bob_api, {}, 400, "Give exactly one of users"),
        (bob_api, {"users": 2, "rate": 1.0}, 400, "Give exactly one of users"),
        (bob_api, {"rate": 2.0}, 400, "takes users, not the other"),
        (bob_api, {"users": 0}, 400, "At least 1 user must run"),
        (bob_api, {"users": 10**6}, 400, "above this team's cap"),
        (victor_api, {"users": 5}, 403, "needs editor"),
        (carol_api, {"users": 5}, 404, ""),
    ]
    for client, body, status, detail in cases:
        response = client.post(f"/runs/{run.pk}/control", body)
        assert response.status_code == status, (body, response.content)
        assert detail in response.json()["detail"]
    assert not RunControl.objects.exists()


def test_stop_early_is_a_conflict_once_the_run_has_ended(plan: TestPlan, bob_api: ApiClient) -> None:
    run = make_run(plan, status=Run.Status.RUNNING)
    assert bob_api.post(f"/runs/{run.pk}/stop-early").json()["kind"] == "stop"
    again = bob_api.post(f"/runs/{run.pk}/stop-early")
    assert again.status_code == 409 and "already stopping early" in again.json()["detail"]
    ended = make_run(plan, status=Run.Status.FINISHED)
    response = bob_api.post(f"/runs/{ended.pk}/control", {"users": 5})
    assert response.status_code == 409 and "is not running (finished)" in response.json()["detail"]
