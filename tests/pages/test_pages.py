"""The pages through the Django test client: access, CRUD round trips, runs and the live JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from runs.models import LoadProfile, Run, RunSecond, Scenario, ScenarioStep, Target, TestPlan
from tests.pages.conftest import HOSTILE, make_run

pytestmark = pytest.mark.django_db


def step_data(
    prefix: str = "steps", steps: list[dict[str, Any]] | None = None, initial: int = 0
) -> dict[str, Any]:
    steps = steps if steps is not None else [{"method": "GET", "path": "/"}]
    data: dict[str, Any] = {
        f"{prefix}-TOTAL_FORMS": str(len(steps)),
        f"{prefix}-INITIAL_FORMS": str(initial or len(steps)),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, step in enumerate(steps):
        full = {
            "name": "",
            "method": "GET",
            "path": "/",
            "query": "",
            "headers": "",
            "body_type": "none",
            "body": "",
            "weight": "1",
            "expected_statuses": "200-399",
            "ORDER": str(i + 1),
        }
        full.update(step)
        for key, value in full.items():
            if key == "DELETE" and not value:
                continue
            data[f"{prefix}-{i}-{key}"] = value
    return data


def json_script(response: Any, element_id: str) -> Any:
    """The value a page embedded with ``json_script``."""
    body = response.content.decode()
    return json.loads(body.split(f'id="{element_id}" type="application/json">')[1].split("</script>")[0])


# --- access ----------------------------------------------------------------------------------
PAGES = [
    ("runs-dashboard", []),
    ("runs-list", []),
    ("runs-detail", [1]),
    ("runs-live", [1]),
    ("runs-tables", [1]),
    ("runs-plan-list", []),
    ("runs-plan-create", []),
    ("runs-plan-detail", [1]),
    ("runs-plan-edit", [1]),
    ("runs-plan-delete", [1]),
    ("runs-target-list", []),
    ("runs-target-create", []),
    ("runs-target-edit", [1]),
    ("runs-target-delete", [1]),
    ("runs-scenario-list", []),
    ("runs-scenario-create", []),
    ("runs-scenario-edit", [1]),
    ("runs-scenario-delete", [1]),
    ("runs-profile-list", []),
    ("runs-profile-create", []),
    ("runs-profile-preview", []),
    ("runs-profile-edit", [1]),
    ("runs-profile-delete", [1]),
]
POSTS = [("runs-plan-start", [1]), ("runs-cancel", [1])]


@pytest.mark.parametrize(("name", "args"), PAGES + POSTS)
def test_anonymous_visitors_are_sent_to_the_login_page(client: Client, name: str, args: list[int]) -> None:
    url = reverse(name, args=args)
    response = client.post(url) if (name, args) in POSTS else client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


@pytest.mark.parametrize(("name", "args"), [p for p in PAGES if p[1]] + POSTS)
def test_every_object_view_404s_on_a_missing_id(alice_client: Client, name: str, args: list[int]) -> None:
    url = reverse(name, args=[987654])
    response = alice_client.post(url) if (name, args) in POSTS else alice_client.get(url)
    assert response.status_code == 404


@pytest.mark.parametrize(("name", "args"), [p for p in PAGES if not p[1] and p[0] != "runs-profile-preview"])
def test_list_and_create_pages_render_for_alice(alice_client: Client, name: str, args: list[int]) -> None:
    response = alice_client.get(reverse(name))
    assert response.status_code == 200
    body = response.content.decode()
    for nav in ("Dashboard", "Runs", "Plans", "Targets", "Scenarios", "Profiles", "Log out"):
        assert nav in body


def test_login_page_logs_alice_in_and_lands_on_the_dashboard(client: Client, alice: Any) -> None:
    assert client.get(reverse("login")).status_code == 200
    response = client.post(reverse("login"), {"username": "alice", "password": "alice-password-123"})
    assert response.status_code == 302 and response["Location"] == reverse("runs-dashboard")
    assert client.get(reverse("runs-dashboard")).status_code == 200


def test_logout_is_a_post(alice_client: Client) -> None:
    response = alice_client.post(reverse("logout"))
    assert response.status_code == 302
    assert alice_client.get(reverse("runs-dashboard")).status_code == 302


def test_csrf_is_enforced_on_posts(alice: Any) -> None:
    c = Client(enforce_csrf_checks=True)
    c.force_login(alice)
    url = reverse("runs-target-create")
    data = {"name": "T", "base_url": "http://example.com", "auth_type": "none", "timeout_seconds": "5"}
    assert c.post(url, data).status_code == 403
    assert not Target.objects.exists()
    c.get(url)  # sets the CSRF cookie
    token = c.cookies["csrftoken"].value
    response = c.post(url, {**data, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Target.objects.get().name == "T"


def test_csrf_is_enforced_on_start_and_cancel(alice: Any, seeded_plan: TestPlan) -> None:
    run = make_run(seeded_plan, status=Run.Status.QUEUED)
    c = Client(enforce_csrf_checks=True)
    c.force_login(alice)
    assert c.post(reverse("runs-plan-start", args=[seeded_plan.pk])).status_code == 403
    assert c.post(reverse("runs-cancel", args=[run.pk])).status_code == 403
    run.refresh_from_db()
    assert run.status == Run.Status.QUEUED and Run.objects.count() == 1


# --- targets ---------------------------------------------------------------------------------
def test_target_round_trip(alice_client: Client) -> None:
    data = {
        "name": "Staging",
        "base_url": "https://staging.example.com/",
        "headers": '{"Accept": "application/json"}',
        "auth_type": "bearer",
        "auth_token": "s3cret",
        "verify_tls": "on",
        "timeout_seconds": "10",
    }
    response = alice_client.post(reverse("runs-target-create"), data)
    assert response.status_code == 302
    target = Target.objects.get()
    assert target.base_url == "https://staging.example.com"
    assert target.headers == {"Accept": "application/json"}
    assert target.auth_token == "s3cret"

    page = alice_client.get(reverse("runs-target-edit", args=[target.pk])).content.decode()
    assert "s3cret" not in page  # secrets are never echoed back

    response = alice_client.post(
        reverse("runs-target-edit", args=[target.pk]), {**data, "name": "Staging 2", "auth_token": ""}
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.name == "Staging 2" and target.auth_token == "s3cret"
    assert "Staging 2" in alice_client.get(reverse("runs-target-list")).content.decode()

    assert alice_client.get(reverse("runs-target-delete", args=[target.pk])).status_code == 200
    response = alice_client.post(reverse("runs-target-delete", args=[target.pk]))
    assert response.status_code == 302 and not Target.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("base_url", "ftp://example.com", "Enter an http:// or https:// URL."),
        ("base_url", "not a url", "Enter an http:// or https:// URL."),
        ("headers", "{bad json", "Not valid JSON"),
        ("headers", "[1, 2]", "Headers must be a JSON object"),
        ("timeout_seconds", "0", "greater than or equal to 0.1"),
    ],
)
def test_bad_target_input_is_explained_and_nothing_is_saved(
    alice_client: Client, field: str, value: str, message: str
) -> None:
    data = {"name": "T", "base_url": "http://example.com", "auth_type": "none", "timeout_seconds": "5"}
    data[field] = value
    response = alice_client.post(reverse("runs-target-create"), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "Nothing was saved" in response.content.decode()
    assert not Target.objects.exists()


def test_deleting_a_target_used_by_a_plan_explains_why_not(
    alice_client: Client, seeded_plan: TestPlan
) -> None:
    url = reverse("runs-target-delete", args=[seeded_plan.target_id])
    page = alice_client.get(url).content.decode()
    assert "cannot be deleted" in page and "Smoke" in page
    response = alice_client.post(url, follow=True)
    assert response.status_code == 200
    assert "is used by the test plan “Smoke”" in response.content.decode()
    assert Target.objects.filter(pk=seeded_plan.target_id).exists()


@pytest.mark.parametrize("kind", ["scenario", "profile"])
def test_deleting_a_scenario_or_profile_used_by_a_plan_explains_why_not(
    alice_client: Client, seeded_plan: TestPlan, kind: str
) -> None:
    obj_id = getattr(seeded_plan, f"{kind}_id")
    response = alice_client.post(reverse(f"runs-{kind}-delete", args=[obj_id]), follow=True)
    assert response.status_code == 200
    assert "Change or delete those plans first" in response.content.decode()
    model = Scenario if kind == "scenario" else LoadProfile
    assert model.objects.filter(pk=obj_id).exists()


# --- scenarios -------------------------------------------------------------------------------
def test_scenario_round_trip_keeps_step_order(alice_client: Client) -> None:
    data = {
        "name": "Checkout",
        "user_class": "fast",
        "think_time_min": "0.5",
        "think_time_max": "1.5",
        **step_data(
            steps=[
                {"name": "list", "path": "/items", "query": '{"page": 2}', "ORDER": "2"},
                {
                    "name": "buy",
                    "method": "POST",
                    "path": "/buy",
                    "body_type": "json",
                    "body": '{"id": 3}',
                    "headers": '{"X-A": "1"}',
                    "weight": "3",
                    "expected_statuses": "200-299,304",
                    "ORDER": "1",
                },
            ]
        ),
    }
    response = alice_client.post(reverse("runs-scenario-create"), data)
    assert response.status_code == 302, response.content.decode()
    scenario = Scenario.objects.get()
    steps = list(scenario.steps.all())
    assert [s.name for s in steps] == ["buy", "list"]
    assert steps[0].headers == {"X-A": "1"} and steps[0].weight == 3
    assert steps[1].query == {"page": 2}

    page = alice_client.get(reverse("runs-scenario-edit", args=[scenario.pk])).content.decode()
    assert "/items" in page and "/buy" in page

    # Delete the first step and add a third.
    edit = {
        "name": "Checkout v2",
        "user_class": "http",
        "think_time_min": "0",
        "think_time_max": "0",
        **step_data(
            steps=[
                {"name": "buy", "path": "/buy", "DELETE": "on"},
                {"name": "list", "path": "/items"},
                {"name": "about", "path": "/about"},
            ],
            initial=2,
        ),
    }
    response = alice_client.post(reverse("runs-scenario-edit", args=[scenario.pk]), edit)
    assert response.status_code == 302, response.content.decode()
    scenario.refresh_from_db()
    assert scenario.name == "Checkout v2"
    assert [s.name for s in scenario.steps.all()] == ["list", "about"]
    assert [s.order for s in scenario.steps.all()] == [0, 1]

    response = alice_client.post(reverse("runs-scenario-delete", args=[scenario.pk]))
    assert response.status_code == 302
    assert not Scenario.objects.exists() and not ScenarioStep.objects.exists()


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"method": "FETCH"}, "Unknown method FETCH"),
        ({"body_type": "json", "method": "POST", "body": "{nope"}, "The body is not valid JSON"),
        ({"headers": "{'single': 'quotes'}"}, "Not valid JSON"),
        ({"query": "[1]"}, "Query must be a JSON object"),
        ({"expected_statuses": "200-299,abc"}, "is not a status code"),
        ({"expected_statuses": "299-200"}, "is backwards"),
        ({"expected_statuses": "700"}, "700 is not an HTTP status code"),
        ({"weight": "0"}, "greater than or equal to 1"),
        ({"path": "items"}, "must start with"),
    ],
)
def test_bad_step_input_is_explained_and_nothing_is_saved(
    alice_client: Client, step: dict[str, str], message: str
) -> None:
    data = {"name": "S", "user_class": "fast", "think_time_min": "0", "think_time_max": "0"}
    data.update(step_data(steps=[step]))
    response = alice_client.post(reverse("runs-scenario-create"), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Scenario.objects.exists() and not ScenarioStep.objects.exists()


def test_think_time_min_above_max_is_refused(alice_client: Client) -> None:
    data = {"name": "S", "user_class": "fast", "think_time_min": "3", "think_time_max": "1", **step_data()}
    response = alice_client.post(reverse("runs-scenario-create"), data)
    assert response.status_code == 200
    assert "Must be at least the minimum (3 s)." in response.content.decode()
    assert not Scenario.objects.exists()


def test_a_scenario_needs_a_step(alice_client: Client) -> None:
    data = {
        "name": "S",
        "user_class": "fast",
        "think_time_min": "0",
        "think_time_max": "0",
        **step_data(steps=[{"DELETE": "on"}]),
    }
    response = alice_client.post(reverse("runs-scenario-create"), data)
    assert "Add at least one request step." in response.content.decode()
    assert not Scenario.objects.exists()


# --- load profiles ---------------------------------------------------------------------------
def test_profile_round_trip_and_server_side_preview(alice_client: Client) -> None:
    data = {"name": "Steady", "kind": "constant", "p_constant_users": "5", "p_constant_duration": "60"}
    response = alice_client.post(reverse("runs-profile-create"), data)
    assert response.status_code == 302
    profile = LoadProfile.objects.get()
    assert profile.params == {"users": 5, "duration": 60, "spawn_rate": None}

    page = alice_client.get(reverse("runs-profile-edit", args=[profile.pk]))
    fig = json_script(page, "fig-profile")
    assert max(fig["data"][0]["y"]) == 5 and fig["data"][0]["x"][-1] == 60
    assert "60 s, peak 5 users" in page.content.decode()

    stages = json.dumps([{"duration": 10, "users": 2}, {"duration": 20, "users": 8, "spawn_rate": 1}])
    response = alice_client.post(
        reverse("runs-profile-edit", args=[profile.pk]),
        {"name": "Stepped", "kind": "stages", "stages_json": stages},
    )
    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.kind == "stages" and len(profile.params["stages"]) == 2
    assert "Stepped" in alice_client.get(reverse("runs-profile-list")).content.decode()

    assert alice_client.post(reverse("runs-profile-delete", args=[profile.pk])).status_code == 302
    assert not LoadProfile.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "constant", "p_constant_users": "-3", "p_constant_duration": "10"}, "Must be at least 1."),
        (
            {"kind": "constant", "p_constant_users": "3", "p_constant_duration": "0"},
            "Must be greater than zero.",
        ),
        ({"kind": "constant", "p_constant_users": "3"}, "Duration (s) is required."),
        (
            {"kind": "ramp", "p_ramp_from_users": "0", "p_ramp_to_users": "0", "p_ramp_duration": "5"},
            "A ramp must change the user count",
        ),
        ({"kind": "stages", "stages_json": "[{duration: 1}]"}, "Not valid JSON"),
        ({"kind": "stages", "stages_json": "[]"}, "Give at least one stage"),
        ({"kind": "bogus"}, "Select a valid choice"),
    ],
)
def test_bad_profile_input_is_explained_and_nothing_is_saved(
    alice_client: Client, data: dict[str, str], message: str
) -> None:
    response = alice_client.post(reverse("runs-profile-create"), {"name": "P", **data})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not LoadProfile.objects.exists()


def test_profile_preview_endpoint_matches_the_server_curve(alice_client: Client) -> None:
    url = reverse("runs-profile-preview")
    ok = alice_client.get(
        url,
        {
            "kind": "ramp",
            "p_ramp_from_users": "0",
            "p_ramp_to_users": "10",
            "p_ramp_duration": "10",
            "p_ramp_hold": "5",
        },
    ).json()
    assert ok["ok"] is True and ok["duration"] == 15 and ok["peak_users"] == 10
    assert ok["y"][0] == 0 and ok["y"][-1] == 10 and ok["x"][-1] == 15
    rate = alice_client.get(
        url,
        {
            "kind": "arrival_ramp",
            "p_arrival_ramp_from_rate": "5",
            "p_arrival_ramp_to_rate": "45",
            "p_arrival_ramp_duration": "10",
            "p_arrival_ramp_max_in_flight": "30",
        },
    ).json()
    # Arrival-rate kinds preview the planned iterations/s; peak_users is the in-flight cap.
    assert rate["ok"] is True and rate["x"] == [0.0, 10.0] and rate["y"] == [5.0, 45.0]
    assert rate["duration"] == 10 and rate["peak_users"] == 30
    bad = alice_client.get(url, {"kind": "constant", "p_constant_users": "<b>x</b>"}).json()
    assert bad["ok"] is False
    assert "<" not in json.dumps(bad["errors"])


def test_an_arrival_rate_profile_saves_and_its_page_speaks_of_iterations(alice_client: Client) -> None:
    response = alice_client.post(
        reverse("runs-profile-create"),
        {
            "name": "Open",
            "kind": "arrival_constant",
            "p_arrival_constant_rate": "40",
            "p_arrival_constant_duration": "30",
            "p_arrival_constant_max_in_flight": "25",
        },
    )
    profile = LoadProfile.objects.get(name="Open")
    assert response.status_code == 302
    assert profile.params == {"rate": 40.0, "duration": 30, "max_in_flight": 25}
    page = alice_client.get(reverse("runs-profile-edit", args=[profile.pk])).content.decode()
    assert "30 s, at most 25 iterations in flight" in page
    assert 'data-open-kinds="arrival_constant arrival_ramp search_rate"' in page
    assert 'name="p_arrival_constant_max_in_flight"' in page


# --- plans -----------------------------------------------------------------------------------
def test_plan_round_trip(alice_client: Client, seeded_plan: TestPlan) -> None:
    data = {
        "name": "Second",
        "target": seeded_plan.target_id,
        "scenario": seeded_plan.scenario_id,
        "profile": seeded_plan.profile_id,
        "notes": "Nightly",
    }
    response = alice_client.post(reverse("runs-plan-create"), data)
    plan = TestPlan.objects.get(name="Second")
    assert response["Location"] == reverse("runs-plan-detail", args=[plan.pk])
    page = alice_client.get(reverse("runs-plan-detail", args=[plan.pk])).content.decode()
    assert "Start run" in page and "Nightly" in page and 'id="fig-profile"' in page
    response = alice_client.post(reverse("runs-plan-edit", args=[plan.pk]), {**data, "name": "Renamed"})
    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.name == "Renamed"
    make_run(plan)
    assert alice_client.post(reverse("runs-plan-delete", args=[plan.pk])).status_code == 302
    assert not TestPlan.objects.filter(pk=plan.pk).exists()
    assert Run.objects.get().plan_name == "Renamed"  # runs outlive their plan


def test_plan_needs_a_target_scenario_and_profile(alice_client: Client) -> None:
    response = alice_client.post(reverse("runs-plan-create"), {"name": "X"})
    assert response.status_code == 200
    assert response.content.decode().count("This field is required.") == 3
    assert not TestPlan.objects.exists()


def test_start_run_creates_a_queued_run_and_redirects_to_it(
    alice_client: Client, seeded_plan: TestPlan
) -> None:
    pytest.importorskip("runs.tasks")
    response = alice_client.post(reverse("runs-plan-start", args=[seeded_plan.pk]))
    run = Run.objects.get()
    assert response["Location"] == reverse("runs-detail", args=[run.pk])
    assert run.status == Run.Status.QUEUED
    assert run.snapshot["target"]["base_url"] == "http://127.0.0.1:9"


def test_start_run_explains_why_it_cannot_start(alice_client: Client, seeded_plan: TestPlan) -> None:
    seeded_plan.scenario.steps.all().delete()
    response = alice_client.post(reverse("runs-plan-start", args=[seeded_plan.pk]), follow=True)
    assert "The scenario has no request steps" in response.content.decode()
    assert not Run.objects.exists()


# --- runs ------------------------------------------------------------------------------------
def test_run_list_is_newest_first_paginated_and_its_query_count_is_pinned(
    alice_client: Client, seeded_plan: TestPlan, django_assert_num_queries: Any
) -> None:
    for i in range(30):
        make_run(seeded_plan, name=f"run-{i:02d}", total_requests=100, total_failures=i)
    url = reverse("runs-list")
    alice_client.get(url)  # warm the session
    # session, user, the user's teams, count, page of runs
    with django_assert_num_queries(5):
        first = alice_client.get(url)
    runs = list(first.context["runs"])
    assert len(runs) == 25
    assert [r.plan_name for r in runs[:2]] == ["run-29", "run-28"]
    body = first.content.decode()
    assert "Page 1 of 2" in body and "29.00 %" in body
    with django_assert_num_queries(5):
        second = alice_client.get(url, {"page": 2})
    assert [r.plan_name for r in second.context["runs"]] == [f"run-{i:02d}" for i in range(4, -1, -1)]


def test_finished_run_page_shows_summary_charts_endpoints_errors_and_snapshot(
    alice_client: Client, finished_run: Run
) -> None:
    response = alice_client.get(reverse("runs-detail", args=[finished_run.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert HOSTILE not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body
    for text in (
        "Finished",
        "22.5 ms",
        "40.0 ms",
        "55.5 ms",
        "5.00 %",
        "2.47.0",
        "gen-1",
        "HTTPError",
        "http://127.0.0.1:9",
        "/cart",
        "What was run",
    ):
        assert text in body, text
    assert "Cancel run" not in body
    latency = json_script(response, "fig-latency")
    assert latency["data"][1]["y"] == [20, 21, 22]
    endpoints = json_script(response, "fig-endpoints")
    assert "GET /" in endpoints["data"][0]["y"]
    assert all("<" not in label for label in endpoints["data"][0]["y"])
    live = json_script(response, "live-config")
    assert live["active"] is False


def test_running_run_page_shows_progress_cancel_and_live_config(
    alice_client: Client, seeded_plan: TestPlan
) -> None:
    run = make_run(
        seeded_plan,
        status=Run.Status.RUNNING,
        last_t=1,
        current_users=3,
        total_requests=12,
        planned_seconds=10,
    )
    RunSecond.objects.create(run=run, t=0, users=2, requests=5, failures=0, p50_ms=1, p95_ms=2, p99_ms=3)
    RunSecond.objects.create(run=run, t=1, users=3, requests=7, failures=0, p50_ms=1, p95_ms=2, p99_ms=3)
    response = alice_client.get(reverse("runs-detail", args=[run.pk]))
    body = response.content.decode()
    assert "Cancel run" in body and 'id="progress-bar"' in body and 'data-percent="20.0"' in body
    live = json_script(response, "live-config")
    assert live["active"] is True and live["after"] == 1
    assert live["url"] == reverse("runs-live", args=[run.pk])
    assert live["charts"]["latency"] == ["p50", "p95", "p99"]
    # charts.js labels the status badge from these (Run.Status), not from a list of its own.
    assert live["statuses"] == dict(Run.Status.choices) and live["statuses"]["finished"] == "Finished"


def test_live_json_returns_only_the_seconds_after_t(alice_client: Client, finished_run: Run) -> None:
    url = reverse("runs-live", args=[finished_run.pk])
    data = alice_client.get(url, {"after": 0}).json()
    assert data["points"]["t"] == [1, 2]
    assert data["points"]["p95"] == [21, 22]
    assert data["status"] == "finished" and data["active"] is False
    assert alice_client.get(url, {"after": 2}).json()["points"]["t"] == []
    assert alice_client.get(url, {"after": "junk"}).json()["points"]["t"] == [0, 1, 2]

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str):
            assert value.isalnum(), value
        else:
            assert value is None or isinstance(value, (int, float, bool))

    walk(data)


def test_live_tables_fragment_escapes_names(alice_client: Client, finished_run: Run) -> None:
    body = alice_client.get(reverse("runs-tables", args=[finished_run.pk])).content.decode()
    assert HOSTILE not in body and "&lt;img" in body and "500 Server Error &lt;b&gt;x&lt;/b&gt;" in body


def test_running_run_endpoint_table_is_merged_from_histograms(
    alice_client: Client, seeded_plan: TestPlan
) -> None:
    from runs.core.histogram import Histogram
    from runs.models import EndpointSecond

    run = make_run(seeded_plan, status=Run.Status.RUNNING, last_t=1)
    for t, values in enumerate(([10, 20], [30, 40])):
        h = Histogram()
        for v in values:
            h.record_ms(v)
        EndpointSecond.objects.create(
            run=run, t=t, method="GET", name="/x", requests=2, failures=t, histogram=h.to_dict()
        )
    response = alice_client.get(reverse("runs-tables", args=[run.pk]))
    rows = response.context["endpoints"]
    assert len(rows) == 1
    row = rows[0]
    assert row["requests"] == 4 and row["failures"] == 1 and row["rps"] == 2
    assert row["p50_ms"] == pytest.approx(20, rel=1e-3) and row["max_ms"] == pytest.approx(40, rel=1e-3)


def test_cancel_ends_a_queued_run(alice_client: Client, seeded_plan: TestPlan) -> None:
    run = make_run(seeded_plan, status=Run.Status.QUEUED, started_at=None)
    response = alice_client.post(reverse("runs-cancel", args=[run.pk]))
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == Run.Status.CANCELLED


def test_cancel_asks_a_running_run_to_stop(alice_client: Client, seeded_plan: TestPlan) -> None:
    run = make_run(seeded_plan, status=Run.Status.RUNNING)
    alice_client.post(reverse("runs-cancel", args=[run.pk]))
    run.refresh_from_db()
    assert run.cancel_requested and run.status == Run.Status.RUNNING


def test_cancel_is_post_only(alice_client: Client, finished_run: Run) -> None:
    assert alice_client.get(reverse("runs-cancel", args=[finished_run.pk])).status_code == 405


def test_dashboard_lists_recent_runs_and_plans_with_a_run_button(
    alice_client: Client, finished_run: Run
) -> None:
    body = alice_client.get(reverse("runs-dashboard")).content.decode()
    assert "Smoke" in body and f"#{finished_run.pk}" in body
    assert reverse("runs-plan-start", args=[finished_run.plan_id]) in body
