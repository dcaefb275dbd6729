"""Scenario variables and locustfiles end to end: run_create → real Celery worker → real Locust
child → PostgreSQL, against the demo target, whose own counts are the yardstick."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Mapping
from typing import Any

import pytest

from runs.models import EndpointSummary, ErrorGroup, Run
from runs.services import catalog
from runs.services.runs import RunError, run_create

from .helpers import target_count, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.first_database_only(
        reason=(
            "what the Locust child sends (variables, extraction, locustfiles); its results are stored"
            " through the ingestion tests/engine/test_runs.py checks on both databases"
        )
    ),
]

ENDED = (Run.Status.FINISHED, Run.Status.FAILED, Run.Status.CANCELLED)


def _wait_ended(run: Run, timeout: float = 40) -> Run:
    wait_for(lambda: Run.objects.get(pk=run.pk).status in ENDED, timeout=timeout, what=f"run {run.pk} to end")
    run.refresh_from_db()
    return run


def _values_seen(base_url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{base_url}/__stats", timeout=5) as response:
        return dict(json.load(response)["values"])


def _endpoints(run: Run) -> dict[str, tuple[int, int]]:
    return {s.name: (s.requests, s.failures) for s in EndpointSummary.objects.filter(run=run)}


def _rescenario(
    plan: Any, *, steps: list[Mapping[str, Any]], sources: list[Mapping[str, Any]] | None = None, **data: Any
) -> None:
    catalog.scenario_save(
        data={"name": plan.scenario.name, "think_time_min": 0.0, "think_time_max": 0.0, **data},
        steps=steps,
        sources=sources or [],
        scenario=plan.scenario,
    )


def test_every_csv_value_reaches_the_target(
    transactional_db: None, live_worker: Any, target_server: str, make_plan: Any
) -> None:
    tag = uuid.uuid4().hex[:8]
    users = [f"{tag}-user-{i}" for i in range(7)]
    terms = [f"{tag} term/{i}&x" for i in range(3)]  # a space, a slash and & must survive the query
    plan = make_plan(target_server, "/value", params={"users": 2, "duration": 3})
    _rescenario(
        plan,
        mode="weighted",
        steps=[
            {"name": "by user", "path": "/value", "query": {"v": "${user}"}, "expected_statuses": "200"},
            {"name": "by term", "path": "/value", "query": {"v": "${term}"}, "expected_statuses": "200"},
        ],
        sources=[
            {
                "kind": "csv",
                "mode": "sequential",
                "filename": "u.csv",
                "columns": ["user", "n"],
                "rows": [[u, str(i)] for i, u in enumerate(users)],
            },
            {
                "kind": "list",
                "mode": "random",
                "filename": "",
                "columns": ["term"],
                "rows": [[t] for t in terms],
            },
        ],
    )
    before = target_count(target_server, "/value")

    run = _wait_ended(run_create(plan=plan))

    assert run.status == Run.Status.FINISHED, run.error_message
    assert run.total_failures == 0
    assert run.total_requests == target_count(target_server, "/value") - before
    seen = {v: n for v, n in _values_seen(target_server).items() if v.startswith(tag)}
    assert set(seen) == set(users) | set(terms)
    assert sum(seen.values()) == run.total_requests
    # Sequential rows go round robin: no user value is sent more than once ahead of another.
    by_user = [seen[u] for u in users]
    assert max(by_user) - min(by_user) <= 1
    assert _endpoints(run) == {
        "by user": (sum(by_user), 0),
        "by term": (run.total_requests - sum(by_user), 0),
    }


def _login_flow(token_path: str) -> list[Mapping[str, Any]]:
    return [
        {
            "name": "login",
            "method": "POST",
            "path": "/login",
            "body_type": "json",
            "body": '{"user": "${user}"}',
            "expected_statuses": "200",
            "extract": [{"var": "token", "source": "json", "expr": token_path}],
        },
        {
            "name": "me",
            "path": "/me",
            "headers": {"Authorization": "Bearer ${token}"},
            "expected_statuses": "200",
        },
    ]


def test_a_token_extracted_at_login_authorizes_the_next_step(
    transactional_db: None, live_worker: Any, target_server: str, make_plan: Any
) -> None:
    plan = make_plan(target_server, "/login", params={"users": 2, "duration": 3})
    _rescenario(
        plan,
        mode="sequence",
        steps=_login_flow("access_token"),
        sources=[
            {"kind": "list", "mode": "sequential", "filename": "", "columns": ["user"], "rows": [["ann"]]}
        ],
    )
    logins, mes = target_count(target_server, "/login"), target_count(target_server, "/me")

    run = _wait_ended(run_create(plan=plan))

    assert run.status == Run.Status.FINISHED, run.error_message
    assert run.total_failures == 0
    assert not ErrorGroup.objects.filter(run=run).exists()
    served_logins = target_count(target_server, "/login") - logins
    served_mes = target_count(target_server, "/me") - mes
    assert served_logins > 20
    # Every iteration logs in, then calls /me once (the last may be cut by the stop).
    assert served_logins - 2 <= served_mes <= served_logins
    assert _endpoints(run) == {"login": (served_logins, 0), "me": (served_mes, 0)}


def test_a_wrong_extraction_path_fails_the_request_with_a_clear_error(
    transactional_db: None, live_worker: Any, target_server: str, make_plan: Any
) -> None:
    plan = make_plan(target_server, "/login", params={"users": 2, "duration": 2})
    _rescenario(
        plan,
        mode="sequence",
        steps=_login_flow("acces_token"),
        sources=[
            {"kind": "list", "mode": "sequential", "filename": "", "columns": ["user"], "rows": [["ann"]]}
        ],
    )
    mes = target_count(target_server, "/me")

    run = _wait_ended(run_create(plan=plan))

    assert run.status == Run.Status.FINISHED, run.error_message
    assert run.total_requests > 10
    assert run.total_failures == run.total_requests  # every login failed its extraction
    assert target_count(target_server, "/me") == mes  # and the iteration stopped there
    groups = list(ErrorGroup.objects.filter(run=run))
    assert [(g.name, g.error_class, g.message) for g in groups] == [
        (
            "login",
            "ExtractionError",
            "extract token: no “acces_token” in the JSON response (json:acces_token)",
        )
    ]
    assert groups[0].count == run.total_failures


LOCUSTFILE = """
from locust import FastHttpUser, HttpUser, constant, task


class Browser(FastHttpUser):
    host = "http://example.invalid"  # ScaleTest replaces it with the target's
    wait_time = constant(0.02)

    @task
    def value(self):
        self.client.get("/value?v=TAG-fast", name="lf fast")


class Checker(HttpUser):
    wait_time = constant(0.02)

    @task
    def broken(self):
        with self.client.get("/status/503", name="lf 503", catch_response=True) as response:
            if response.status_code == 503:
                response.failure("got 503")

    @task
    def elsewhere(self):
        # Another host: the pinned child refuses to resolve it, so nothing leaves for it.
        self.client.get("http://localhost:PORT/value?v=TAG-elsewhere", name="lf elsewhere")
"""


def allow_locustfiles(team: Any, allowed: bool = True) -> None:
    team.allow_locustfiles = allowed
    team.save()


def test_a_locustfile_scenarios_requests_land_in_our_storage(
    transactional_db: None, live_worker: Any, target_server: str, make_plan: Any, team: Any
) -> None:
    allow_locustfiles(team)
    tag = uuid.uuid4().hex[:8]
    port = target_server.rsplit(":", 1)[1]
    plan = make_plan(target_server, "/", params={"users": 4, "duration": 3})
    _rescenario(
        plan, steps=[], kind="locustfile", locustfile=LOCUSTFILE.replace("TAG", tag).replace("PORT", port)
    )
    values, fails = target_count(target_server, "/value"), target_count(target_server, "/status/503")

    run = _wait_ended(run_create(plan=plan))

    assert run.status == Run.Status.FINISHED, run.error_message
    served_values = target_count(target_server, "/value") - values
    served_503 = target_count(target_server, "/status/503") - fails
    seen = _values_seen(target_server)
    assert seen.get(f"{tag}-fast") == served_values > 10
    assert f"{tag}-elsewhere" not in seen
    endpoints = _endpoints(run)
    assert endpoints["lf fast"] == (served_values, 0)
    assert endpoints["lf 503"] == (served_503, served_503) and served_503 > 5
    elsewhere_requests, elsewhere_failures = endpoints["lf elsewhere"]
    assert elsewhere_requests == elsewhere_failures > 0
    assert run.total_requests == served_values + served_503 + elsewhere_requests
    messages = {g.name: g.message for g in ErrorGroup.objects.filter(run=run)}
    assert messages["lf 503"] == "got 503"
    assert "ScaleTest connects only to the checked address of the target" in messages["lf elsewhere"]


def test_a_locustfile_is_refused_unless_allowed_and_sends_nothing(
    transactional_db: None, target_server: str, make_plan: Any, team: Any, settings: Any
) -> None:
    allow_locustfiles(team)
    plan = make_plan(target_server, "/", params={"users": 1, "duration": 2})
    _rescenario(plan, steps=[], kind="locustfile", locustfile=LOCUSTFILE)
    allow_locustfiles(team, False)  # the operator changed their mind

    with pytest.raises(RunError, match="Locustfile scenarios are not allowed for this team"):
        run_create(plan=plan)
    allow_locustfiles(team)
    settings.SCALETEST_ALLOW_LOCUSTFILES = False  # forbidden server-wide, whatever the team says
    with pytest.raises(RunError, match="Locustfile scenarios are not allowed for this team"):
        run_create(plan=plan)
    assert not Run.objects.exists()


def test_a_locustfile_that_fails_to_load_fails_the_run_with_its_message(
    transactional_db: None, live_worker: Any, target_server: str, make_plan: Any, team: Any
) -> None:
    allow_locustfiles(team)
    plan = make_plan(target_server, "/", params={"users": 1, "duration": 2})
    # Passes the save-time checks (it compiles, names a User class) but has no tasks.
    _rescenario(
        plan,
        steps=[],
        kind="locustfile",
        locustfile="from locust import HttpUser\nclass U(HttpUser):\n    pass\n",
    )

    run = _wait_ended(run_create(plan=plan))

    assert run.status == Run.Status.FAILED
    assert "the locustfile's user class U has no tasks" in run.error_message
    assert run.total_requests == 0
