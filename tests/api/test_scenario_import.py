"""POST /api/v1/scenarios/import: a preview that changes nothing, a save that validates as
POST /scenarios does and leaves flagged secrets out unless asked to keep them."""

from __future__ import annotations

import json
from typing import Any

from runs.models import Scenario, Team

from .conftest import ApiClient, api_for

CURL = (
    "curl 'http://127.0.0.1:8089/api/items?page=2' -H 'Content-Type: application/json' "
    "-H 'X-Api-Key: k-123' --data-raw '{\"name\": \"mug\"}'"
)


def test_the_preview_flags_secrets_and_saves_nothing(alice_api: ApiClient) -> None:
    response = alice_api.post("/scenarios/import", {"content": CURL})
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["format"] == "curl" and data["base_url"] == "http://127.0.0.1:8089"
    (step,) = data["steps"]
    assert (step["method"], step["path"], step["query"]) == ("POST", "/api/items", {"page": "2"})
    assert step["secret_names"] == ["X-Api-Key"]
    assert step["headers"]["X-Api-Key"] == "k-123"  # the preview shows what was found
    assert not Scenario.objects.exists()


def test_save_leaves_secrets_out_unless_kept(alice_api: ApiClient, team: Team) -> None:
    response = alice_api.post("/scenarios/import", {"content": CURL, "save": True, "name": "Items"})
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["name"] == "Items" and created["mode"] == "weighted"
    (step,) = created["steps"]
    assert step["headers"] == {"Content-Type": "application/json"}
    assert json.loads(step["body"]) == {"name": "mug"}

    kept = alice_api.post("/scenarios/import", {"content": CURL, "save": True, "keep_secrets": True}).json()
    assert kept["steps"][0]["headers"]["X-Api-Key"] == "k-123"
    assert kept["name"] == "Imported from cURL (127.0.0.1:8089)"
    assert Scenario.objects.filter(team=team).count() == 2


def test_a_har_import_defaults_to_the_sequence_order(alice_api: ApiClient) -> None:
    har = {
        "log": {
            "entries": [
                {"request": {"method": "GET", "url": "http://127.0.0.1:8089/a", "headers": []}},
                {"request": {"method": "GET", "url": "http://127.0.0.1:8089/b", "headers": []}},
            ]
        }
    }
    created = alice_api.post("/scenarios/import", {"content": json.dumps(har), "save": True}).json()
    assert created["mode"] == "sequence"
    assert [s["path"] for s in created["steps"]] == ["/a", "/b"]


def test_bad_input_is_a_422_on_content_with_the_parsers_message(alice_api: ApiClient) -> None:
    response = alice_api.post("/scenarios/import", {"content": "swagger: '2.0'\n", "format": "openapi"})
    assert response.status_code == 422
    (item,) = response.json()["detail"]
    assert item["loc"] == ["body", "content"]
    assert "Swagger 2.0 document; convert it to OpenAPI 3" in item["msg"]
    assert not Scenario.objects.exists()


def test_viewers_and_other_teams_cannot_import(victor: Any, carol: Any, team: Team) -> None:
    response = api_for(victor).post("/scenarios/import", {"content": CURL, "team": team.pk})
    assert response.status_code == 403
    response = api_for(carol).post("/scenarios/import", {"content": CURL, "team": team.pk, "save": True})
    assert response.status_code == 404
    assert not Scenario.objects.exists()
