"""Scenario kinds, step order, data sources, extraction and locustfiles through the API: the
scenario page's forms and formsets decide, with the page's messages; refused input saves nothing."""

from __future__ import annotations

from typing import Any

from runs.core.engine.scenario_vars import MAX_SOURCE_BYTES
from runs.forms.scenarios import LOCUSTFILE_NOT_ALLOWED
from runs.models import Scenario, ScenarioDataSource, Team

from .conftest import ApiClient, api_for

LOCUSTFILE = """from locust import HttpUser, task


class Shopper(HttpUser):
    @task
    def home(self):
        self.client.get("/")
"""


def _locs(response: Any) -> dict[tuple[Any, ...], str]:
    assert response.status_code == 422, response.content
    return {tuple(item["loc"]): item["msg"] for item in response.json()["detail"]}


def test_sequence_with_sources_and_extraction_round_trips(alice_api: ApiClient, team: Team) -> None:
    body = {
        "name": "Login flow",
        "mode": "sequence",
        "sources": [
            {
                "kind": "csv",
                "mode": "random",
                "csv": "user,password\nann,a1\nben,b2\n",
                "filename": "users.csv",
            },
            {"kind": "list", "variable": "sku", "values": ["A-1", "B-2", "C-3"]},
        ],
        "steps": [
            {
                "method": "POST",
                "path": "/login",
                "body_type": "json",
                "body": '{"user": "${user}", "password": "${password}"}',
                "extract": "token = json:access_token\nsession = header:X-Session",
            },
            {
                "path": "/items/${sku}",
                "headers": {"Authorization": "Bearer ${token}"},
                "extract": [{"var": "etag", "source": "header", "expr": "ETag"}],
            },
            {"path": "/check", "query": {"e": "${etag}", "s": "${session}"}},
        ],
    }
    created = alice_api.post("/scenarios", body)
    assert created.status_code == 201, created.content
    out = created.json()
    assert (out["kind"], out["mode"], out["locustfile"]) == ("steps", "sequence", "")
    assert [
        (s["kind"], s["mode"], s["filename"], s["columns"], s["row_count"], s["values"])
        for s in out["sources"]
    ] == [
        ("csv", "random", "users.csv", ["user", "password"], 2, None),
        ("list", "sequential", "", ["sku"], 3, ["A-1", "B-2", "C-3"]),
    ]
    assert out["steps"][0]["extract"] == [
        {"var": "token", "source": "json", "expr": "access_token"},
        {"var": "session", "source": "header", "expr": "X-Session"},
    ]
    assert out["steps"][1]["extract"] == [{"var": "etag", "source": "header", "expr": "ETag"}]
    scenario = Scenario.objects.get(pk=out["id"])
    assert [s.rows for s in scenario.sources.all()] == [
        [["ann", "a1"], ["ben", "b2"]],
        [["A-1"], ["B-2"], ["C-3"]],
    ]
    # PATCH keeps the saved CSV (by id) and everything not sent.
    patched = alice_api.patch(f"/scenarios/{out['id']}", {"description": "d"})
    assert patched.status_code == 200, patched.content
    assert (
        patched.json()["sources"][0]["columns"] == ["user", "password"] and len(patched.json()["steps"]) == 3
    )
    csv_id = patched.json()["sources"][0]["id"]
    kept = alice_api.patch(
        f"/scenarios/{out['id']}",
        {
            "sources": [
                {"id": csv_id, "kind": "csv"},
                {"kind": "list", "variable": "sku", "values": "X-9\n\nY-8\n"},
            ]
        },
    )
    assert kept.status_code == 200, kept.content
    assert [s["row_count"] for s in kept.json()["sources"]] == [2, 2]
    assert ScenarioDataSource.objects.get(scenario=scenario, kind="csv").filename == "users.csv"


def test_variables_and_sources_are_checked_with_the_pages_messages(alice_api: ApiClient, team: Team) -> None:
    errors = _locs(
        alice_api.post(
            "/scenarios",
            {
                "name": "W",
                "steps": [
                    {"path": "/a", "extract": "t = json:token"},
                    {"path": "/b/${t}"},
                    {"path": "/c", "extract": "not a rule"},
                ],
            },
        )
    )
    assert errors[("body", "steps", 2, "extract")].startswith("Line 1: write “name = json:path.to.field”")
    # Only once the rows parse does the cross-check run (as on the page).
    errors = _locs(
        alice_api.post(
            "/scenarios",
            {
                "name": "W",
                "steps": [
                    {"path": "/a", "extract": "t = json:token"},
                    {"path": "/b/${t}"},
                ],
            },
        )
    )
    assert errors[("body", "steps", 0, "extract")] == (
        "Extracting values needs the step order “Sequence”: choose it above."
    )
    assert errors[("body", "steps", 1)] == (
        "This step uses ${t}, which no data source defines "
        "(in weighted mode only data sources define variables)."
    )
    errors = _locs(
        alice_api.post("/scenarios", {"name": "S", "mode": "sequence", "steps": [{"path": "/${nope}"}]})
    )
    assert errors[("body", "steps", 0)] == (
        "This step uses ${nope}, which neither a data source nor an earlier step’s extraction defines."
    )
    errors = _locs(
        alice_api.post(
            "/scenarios",
            {
                "name": "S",
                "steps": [{"path": "/${a}"}],
                "sources": [
                    {"kind": "list", "variable": "a", "values": ["1"]},
                    {"kind": "csv", "csv": "a,b\n1,2\n"},
                    {"kind": "csv", "csv": "x,y\n1\n"},
                    {"kind": "list", "variable": "9bad", "values": "1"},
                    {"kind": "csv"},
                ],
            },
        )
    )
    assert errors[("body", "sources", 2, "csv")] == "Line 2 has 1 value(s); the header names 2 column(s)."
    assert errors[("body", "sources", 3, "values")].startswith("The variable name “9bad” is not a valid")
    assert errors[("body", "sources", 4, "csv")] == "Choose a CSV file."
    errors = _locs(
        alice_api.post(
            "/scenarios",
            {
                "name": "S",
                "steps": [{"path": "/${a}"}],
                "sources": [
                    {"kind": "list", "variable": "a", "values": ["1"]},
                    {"kind": "csv", "csv": "a,b\n1,2\n"},
                ],
            },
        )
    )
    assert errors[("body", "sources")] == "The variable “a” comes from data sources 1 and 2; rename one."
    assert (
        alice_api.post(
            "/scenarios",
            {
                "name": "S",
                "steps": [{"path": "/"}],
                "sources": [{"kind": "list", "variable": "a", "values": ["one\ntwo"]}],
            },
        ).status_code
        == 422
    )
    assert (
        _locs(alice_api.post("/scenarios", {"name": "Empty"}))[("body", "steps")]
        == "Add at least one request step."
    )
    assert not Scenario.objects.exists()


def test_a_csv_over_the_pages_cap_is_refused_like_the_upload(alice_api: ApiClient, team: Team) -> None:
    big = "v\n" + "x" * (MAX_SOURCE_BYTES + 1)
    errors = _locs(
        alice_api.post(
            "/scenarios",
            {"name": "Big", "steps": [{"path": "/${v}"}], "sources": [{"kind": "csv", "csv": big}]},
        )
    )
    assert errors[("body", "sources", 0, "csv")] == "The file is larger than 5 MB."
    huge = alice_api.post(
        "/scenarios",
        {
            "name": "Huge",
            "steps": [{"path": "/"}],
            "sources": [{"kind": "csv", "csv": "v\n" + "x" * (12 * 1024 * 1024)}],
        },
    )
    assert huge.status_code == 413 and huge.json()["detail"] == "The request body is larger than 11 MB."
    assert not Scenario.objects.exists()


def test_locustfile_scenarios_only_where_allowed(alice_api: ApiClient, team: Team, settings: Any) -> None:
    body = {"name": "Custom", "kind": "locustfile", "locustfile": LOCUSTFILE}
    settings.SCALETEST_ALLOW_LOCUSTFILES = True
    refused = alice_api.post("/scenarios", body)
    assert _locs(refused) == {("body", "kind"): LOCUSTFILE_NOT_ALLOWED}
    assert not Scenario.objects.exists()
    Team.objects.filter(pk=team.pk).update(allow_locustfiles=True)
    created = alice_api.post("/scenarios", {**body, "steps": [{"path": "/ignored"}]})
    assert created.status_code == 201, created.content
    out = created.json()
    assert out["kind"] == "locustfile" and out["locustfile"] == LOCUSTFILE and out["steps"] == []
    shaped = alice_api.patch(
        f"/scenarios/{out['id']}", {"locustfile": "class Shape(LoadTestShape):\n    pass\n"}
    )
    assert shaped.status_code == 422
    assert [(e["loc"], e["msg"]) for e in shaped.json()["detail"]] == [
        (
            ["body", "locustfile"],
            "Remove the LoadTestShape class (Shape): the load comes from the test plan's profile.",
        ),
        (
            ["body", "locustfile"],
            "Define at least one User class, e.g. class Shopper(HttpUser): with a @task method.",
        ),
    ]
    # The server-wide switch off: even an allowed team may not save one.
    settings.SCALETEST_ALLOW_LOCUSTFILES = False
    assert _locs(alice_api.patch(f"/scenarios/{out['id']}", {"description": "x"})) == {
        ("body", "kind"): LOCUSTFILE_NOT_ALLOWED
    }
    assert Scenario.objects.get().description == ""


def test_another_teams_scenario_is_still_404(alice_api: ApiClient, carol: Any) -> None:
    created = alice_api.post("/scenarios", {"name": "Mine", "steps": [{"path": "/"}]})
    carol_api = api_for(carol)
    pk = created.json()["id"]
    assert carol_api.get(f"/scenarios/{pk}").status_code == 404
    assert carol_api.patch(f"/scenarios/{pk}", {"mode": "sequence"}).status_code == 404
    assert Scenario.objects.get().mode == "weighted"
