"""The scenario form with variables: data sources, step order, extraction and locustfiles.

Bad input is explained on the page and nothing is saved."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from runs.models import Scenario, ScenarioDataSource, ScenarioStep
from runs.services.runs import plan_snapshot
from tests.pages.test_pages import step_data

pytestmark = pytest.mark.django_db

LOCUSTFILE = """
from locust import HttpUser, task

class Shopper(HttpUser):
    @task
    def home(self):
        self.client.get("/")
"""


def source_data(sources: list[dict[str, Any]], initial: int = 0) -> dict[str, Any]:
    data: dict[str, Any] = {
        "sources-TOTAL_FORMS": str(len(sources)),
        "sources-INITIAL_FORMS": str(initial),
        "sources-MIN_NUM_FORMS": "0",
        "sources-MAX_NUM_FORMS": "1000",
    }
    for i, source in enumerate(sources):
        full = {"kind": "list", "mode": "sequential", "variable": "", "values": "", "source_id": ""}
        full.update(source)
        for key, value in full.items():
            data[f"sources-{i}-{key}"] = value
    return data


def scenario_data(
    *, steps: list[dict[str, Any]], sources: list[dict[str, Any]] | None = None, **fields: Any
) -> dict[str, Any]:
    data = {
        "name": "Flow",
        "kind": "steps",
        "mode": "sequence",
        "user_class": "fast",
        "think_time_min": "0",
        "think_time_max": "0",
        **fields,
    }
    return {**data, **step_data(steps=steps), **source_data(sources or [])}


def csv_file(text: str, name: str = "users.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def test_a_sequence_with_csv_list_and_extraction_round_trips(alice_client: Client, make_plan: Any) -> None:
    data = scenario_data(
        steps=[
            {
                "name": "login",
                "method": "POST",
                "path": "/login",
                "body_type": "json",
                "body": '{"user": "${user}", "n": ${n}}',
                "extract": "token = json:access_token\nsid = header:X-Session",
            },
            {"name": "me", "path": "/me", "headers": '{"Authorization": "Bearer ${token}"}'},
            {"name": "find", "path": "/value", "query": '{"v": "${term}"}'},
        ],
        sources=[
            {"kind": "csv", "csv_file": csv_file("user,n\nann,1\nbob,2\n")},
            {"kind": "list", "mode": "random", "variable": "term", "values": "red\nblue\n"},
        ],
    )
    response = alice_client.post(reverse("runs-scenario-create"), data)
    assert response.status_code == 302, response.content.decode()
    scenario = Scenario.objects.get()
    assert scenario.mode == "sequence" and scenario.kind == "steps"
    csv_source, list_source = scenario.sources.all()
    assert (csv_source.kind, csv_source.filename, csv_source.columns, csv_source.rows) == (
        "csv",
        "users.csv",
        ["user", "n"],
        [["ann", "1"], ["bob", "2"]],
    )
    assert (list_source.mode, list_source.columns, list_source.rows) == (
        "random",
        ["term"],
        [["red"], ["blue"]],
    )
    assert scenario.steps.all()[0].extract == [
        {"var": "token", "source": "json", "expr": "access_token"},
        {"var": "sid", "source": "header", "expr": "X-Session"},
    ]

    page = alice_client.get(reverse("runs-scenario-edit", args=[scenario.pk])).content.decode()
    assert "users.csv: user, n (2 rows)" in page
    assert "token = json:access_token" in page
    assert 'enctype="multipart/form-data"' in page

    # Saving again without choosing the file keeps the stored CSV.
    again = {
        **data,
        **source_data(
            [
                {"kind": "csv", "source_id": str(csv_source.pk)},
                {"kind": "list", "variable": "term", "values": "green"},
            ],
            initial=2,
        ),
    }
    del again["sources-0-csv_file"]
    response = alice_client.post(reverse("runs-scenario-edit", args=[scenario.pk]), again)
    assert response.status_code == 302, response.content.decode()
    kept = list(ScenarioDataSource.objects.filter(scenario=scenario))
    assert [s.rows for s in kept] == [[["ann", "1"], ["bob", "2"]], [["green"]]]

    # The run snapshot carries everything the child needs.
    plan = make_plan("http://127.0.0.1:9")
    plan.scenario = scenario
    snap = plan_snapshot(plan=plan)["scenario"]
    assert snap["mode"] == "sequence" and snap["kind"] == "steps" and "locustfile" not in snap
    assert snap["sources"][0] == {
        "kind": "csv",
        "mode": "sequential",
        "filename": "users.csv",
        "columns": ["user", "n"],
        "rows": [["ann", "1"], ["bob", "2"]],
    }
    assert snap["steps"][0]["extract"][0] == {"var": "token", "source": "json", "expr": "access_token"}


@pytest.mark.parametrize(
    ("fields", "steps", "sources", "message"),
    [
        (
            {},
            [{"path": "/u/${user}"}],
            [],
            "This step uses ${user}, which neither a data source nor an earlier step’s extraction defines",
        ),
        (
            {"mode": "weighted"},
            [{"path": "/u/${user}"}],
            [],
            "This step uses ${user}, which no data source defines",
        ),
        (
            {},
            [
                {"path": "/me", "headers": '{"A": "${token}"}'},
                {"path": "/login", "extract": "token = json:t"},
            ],
            [],
            "uses ${token}",
        ),
        (
            {"mode": "weighted"},
            [{"path": "/login", "extract": "token = json:t"}],
            [],
            "Extracting values needs the step order “Sequence”",
        ),
        (
            {},
            [{"path": "/login", "extract": "token json t"}],
            [],
            "Line 1: write “name = json:path.to.field”",
        ),
        ({}, [{"path": "/a/${x"}], [], "is not closed"),
        ({}, [{"path": "/"}], [{"kind": "csv", "csv_file": csv_file("a,a\n1,2\n")}], "appears twice"),
        ({}, [{"path": "/"}], [{"kind": "csv", "csv_file": csv_file("a\n")}], "no data rows"),
        ({}, [{"path": "/"}], [{"kind": "csv"}], "Choose a CSV file."),
        (
            {},
            [{"path": "/"}],
            [{"kind": "list", "variable": "9x", "values": "a"}],
            "is not a valid variable name",
        ),
        (
            {},
            [{"path": "/"}],
            [
                {"kind": "list", "variable": "x", "values": "a"},
                {"kind": "list", "variable": "x", "values": "b"},
            ],
            "The variable “x” comes from data sources 1 and 2",
        ),
        (
            {},
            [{"method": "POST", "path": "/", "body_type": "json", "body": '{"a": ${x'}],
            [],
            "is not closed",
        ),
    ],
)
def test_bad_variables_are_explained_and_nothing_is_saved(
    alice_client: Client,
    fields: dict[str, str],
    steps: list[dict[str, Any]],
    sources: list[dict[str, Any]],
    message: str,
) -> None:
    response = alice_client.post(
        reverse("runs-scenario-create"), scenario_data(steps=steps, sources=sources, **fields)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Scenario.objects.exists() and not ScenarioStep.objects.exists()
    assert not ScenarioDataSource.objects.exists()


def test_a_csv_over_the_size_cap_is_refused(alice_client: Client) -> None:
    big = "v\n" + "x" * (5 * 1024 * 1024) + "\n"
    data = scenario_data(steps=[{"path": "/"}], sources=[{"kind": "csv", "csv_file": csv_file(big)}])
    response = alice_client.post(reverse("runs-scenario-create"), data)
    assert "The file is larger than 5 MB." in response.content.decode()
    assert not Scenario.objects.exists()


def test_locustfiles_are_refused_unless_an_administrator_allows_them(alice_client: Client, team: Any) -> None:
    assert team.allow_locustfiles is False  # the default
    page = alice_client.get(reverse("runs-scenario-create")).content.decode()
    assert 'value="locustfile"' not in page
    assert "Locustfile scenarios are not allowed for this team" in page
    response = alice_client.post(
        reverse("runs-scenario-create"), scenario_data(steps=[], kind="locustfile", locustfile=LOCUSTFILE)
    )
    assert response.status_code == 200
    assert "Locustfile scenarios are not allowed for this team" in response.content.decode()
    assert not Scenario.objects.exists()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("class A(HttpUser:\n    pass", "Syntax error on line 1"),
        ("x = 1\n", "Define at least one User class"),
        (LOCUSTFILE + "\nclass S(LoadTestShape):\n    pass\n", "Remove the LoadTestShape class (S)"),
        ("   ", "Write the locustfile"),
    ],
)
def test_a_bad_locustfile_is_explained(alice_client: Client, team: Any, source: str, message: str) -> None:
    team.allow_locustfiles = True
    team.save()
    response = alice_client.post(
        reverse("runs-scenario-create"), scenario_data(steps=[], kind="locustfile", locustfile=source)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Scenario.objects.exists()


def test_an_allowed_locustfile_is_saved_without_steps(alice_client: Client, team: Any) -> None:
    team.allow_locustfiles = True
    team.save()
    # The step rows on the page are ignored for a locustfile (even invalid ones).
    data = scenario_data(steps=[{"path": "no-slash"}], kind="locustfile", locustfile=LOCUSTFILE)
    response = alice_client.post(reverse("runs-scenario-create"), data)
    assert response.status_code == 302, response.content.decode()
    scenario = Scenario.objects.get()
    assert scenario.kind == "locustfile" and scenario.locustfile == LOCUSTFILE
    assert not scenario.steps.exists()
    page = alice_client.get(reverse("runs-scenario-edit", args=[scenario.pk])).content.decode()
    assert "class Shopper(HttpUser)" in page


def test_values_in_the_page_are_escaped(alice_client: Client) -> None:
    hostile = "<script>alert(1)</script>"
    data = scenario_data(
        steps=[{"path": "/v", "query": '{"v": "${v}"}'}],
        sources=[{"kind": "csv", "csv_file": csv_file(f"v\n{hostile}\n", name="<b>.csv")}],
    )
    assert alice_client.post(reverse("runs-scenario-create"), data).status_code == 302
    scenario = Scenario.objects.get()
    page = alice_client.get(reverse("runs-scenario-edit", args=[scenario.pk])).content.decode()
    assert "&lt;b&gt;.csv" in page and "<b>.csv" not in page
