"""The dashboard's quick test and the way to a first test (target → scenario → profile → plan).

Alice is an admin of her team, Victor a viewer in it. The quick test makes its four parts
through the catalog services and starts the run with ``run_create``: refused input or a refused
run leaves nothing behind.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from runs.models import LoadProfile, Run, Scenario, Target, TestPlan

pytestmark = pytest.mark.django_db

PARTS = (Target, Scenario, LoadProfile, TestPlan, Run)


def counts() -> list[int]:
    return [model.objects.count() for model in PARTS]


@pytest.fixture
def client_of(alice: Any) -> Any:
    """One logged-in client per user (its session keeps the messages between requests)."""
    clients: dict[str, Client] = {}

    def login(user: Any) -> Client:
        if user.username not in clients:
            clients[user.username] = Client()
            clients[user.username].force_login(user)
        return clients[user.username]

    return login


def test_an_empty_dashboard_offers_the_quick_test_and_the_four_steps_with_progress(
    alice: Any, client_of: Any
) -> None:
    html = client_of(alice).get(reverse("runs-dashboard")).content.decode()
    assert 'id="quick-test-form"' in html
    assert re.search(r'<details class="card quick-test" id="quick-test" open>', html)
    assert "(0 of 4 done)" in html
    for label in ("Create a target", "Create a scenario", "Create a load profile", "Create a test plan"):
        assert label in html


def test_the_quick_test_makes_the_four_parts_and_queues_the_run(
    alice: Any, team: Any, client_of: Any, target_server: str
) -> None:
    response = client_of(alice).post(
        reverse("runs-quick-test"),
        {
            "url": f"{target_server}/delay?ms=5",
            "method": "GET",
            "users": "4",
            "duration": "30",
            "shape": "ramp",
        },
    )
    run = Run.objects.get()
    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    plan = run.plan
    assert plan is not None
    assert plan.team == team and plan.created_by == alice
    assert plan.target.base_url == target_server
    step = plan.scenario.steps.get()
    assert (step.method, step.path, step.query) == ("GET", "/delay", {"ms": "5"})
    assert plan.profile.kind == "ramp" and plan.profile.params["to_users"] == 4
    for part in (plan, plan.target, plan.scenario, plan.profile):
        assert part.name.startswith("Quick test · ")
    assert run.status == Run.Status.QUEUED and run.planned_seconds == 30
    # The message names every part with a link, so they can be edited and run again.
    page = client_of(alice).get(response["Location"]).content.decode()
    for part in (plan, plan.target, plan.scenario, plan.profile):
        assert f'href="{part.get_absolute_url()}"' in page
    # A second quick test on the same host reuses its target.
    client_of(alice).post(
        reverse("runs-quick-test"),
        {"url": f"{target_server}/", "method": "HEAD", "users": "2", "duration": "5", "shape": "constant"},
    )
    assert Target.objects.count() == 1 and TestPlan.objects.count() == 2


@pytest.mark.parametrize(
    ("data", "field_error"),
    [
        ({"url": "ftp://example.com/x"}, "Enter a full http:// or https:// URL"),
        ({"url": "not a url"}, "Enter a full http:// or https:// URL"),
        ({"users": "0"}, "greater than or equal to 1"),
        ({"users": "999999"}, "SCALETEST_MAX_USERS"),
        ({"duration": "999999"}, "SCALETEST_MAX_RUN_SECONDS"),
        ({"method": "BREW"}, "Select a valid choice"),
        ({"shape": "staircase", "steps": "8", "users": "3"}, "at least 8 users"),
        ({"url": "http://127.0.0.1:1/${id}"}, "Variables"),
    ],
)
def test_bad_input_says_what_to_fix_and_creates_nothing(
    alice: Any, client_of: Any, target_server: str, data: dict[str, str], field_error: str
) -> None:
    form = {"url": f"{target_server}/", "method": "GET", "users": "3", "duration": "10", "shape": "constant"}
    response = client_of(alice).post(reverse("runs-quick-test"), {**form, **data})
    assert response.status_code == 400
    assert field_error in response.content.decode()
    assert counts() == [0, 0, 0, 0, 0]


def test_a_loopback_url_outside_the_allowlist_is_refused_with_what_to_do_and_where(
    alice: Any, client_of: Any, settings: Any
) -> None:
    settings.SCALETEST_ALLOWLIST = []
    response = client_of(alice).post(
        reverse("runs-quick-test"),
        {"url": "http://127.0.0.1:9/", "method": "GET", "users": "1", "duration": "5", "shape": "constant"},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "127.0.0.1 is a loopback address (this machine)" in html
    assert "Allowed networks" in html and "SCALETEST_ALLOWLIST" in html
    assert counts() == [0, 0, 0, 0, 0]


def test_a_run_the_caps_refuse_leaves_no_target_scenario_profile_or_plan(
    alice: Any, team: Any, client_of: Any, target_server: str
) -> None:
    team.max_users = 2
    team.save()
    response = client_of(alice).post(
        reverse("runs-quick-test"),
        {"url": f"{target_server}/", "method": "GET", "users": "3", "duration": "5", "shape": "constant"},
    )
    html = response.content.decode()
    assert response.status_code == 400, re.findall(r"errorlist[^>]*>(.*?)</", html, re.S)
    assert "Nothing was created or started" in html, re.findall(r"errorlist-box[^>]*>(.*?)</div", html, re.S)
    assert "the cap is 2" in html
    assert counts() == [0, 0, 0, 0, 0]


def test_a_viewer_sees_no_quick_test_and_cannot_post_one(
    alice: Any, team: Any, victor: Any, client_of: Any, target_server: str
) -> None:
    c = client_of(victor)
    assert 'id="quick-test-form"' not in c.get(reverse("runs-dashboard")).content.decode()
    response = c.post(
        reverse("runs-quick-test"),
        {"url": f"{target_server}/", "method": "GET", "users": "1", "duration": "5", "shape": "constant"},
    )
    assert response.status_code == 403
    assert counts() == [0, 0, 0, 0, 0]


def test_the_quick_test_form_needs_its_csrf_token(alice: Any, target_server: str) -> None:
    c = Client(enforce_csrf_checks=True)
    c.force_login(alice)
    response = c.post(
        reverse("runs-quick-test"),
        {"url": f"{target_server}/", "method": "GET", "users": "1", "duration": "5", "shape": "constant"},
    )
    assert response.status_code == 403
    assert counts() == [0, 0, 0, 0, 0]


def test_every_save_offers_the_next_step(alice: Any, team: Any, client_of: Any, target_server: str) -> None:
    c = client_of(alice)

    def message_after(response: Any) -> str:
        errors = re.findall(r'class="errorlist[^"]*"[^>]*>(.*?)</', response.content.decode(), re.S)
        assert response.status_code == 302, errors
        return c.get(response["Location"]).content.decode()

    html = message_after(
        c.post(
            reverse("runs-target-create"),
            {"name": "Shop <b>", "base_url": target_server, "auth_type": "none", "timeout_seconds": "5"},
        )
    )
    assert "Created target “Shop &lt;b&gt;”." in html  # user text stays escaped in the message
    assert f'Next step: <a href="{reverse("runs-scenario-create")}">create a scenario</a>' in html
    html = message_after(
        c.post(
            reverse("runs-scenario-create"),
            {
                "name": "Browse",
                "kind": "steps",
                "mode": "weighted",
                "user_class": "fast",
                "think_time_min": "0",
                "think_time_max": "0",
                "steps-TOTAL_FORMS": "1",
                "steps-INITIAL_FORMS": "0",
                "steps-0-name": "home",
                "steps-0-method": "GET",
                "steps-0-path": "/",
                "steps-0-body_type": "none",
                "steps-0-weight": "1",
                "steps-0-expected_statuses": "200-399",
                "sources-TOTAL_FORMS": "0",
                "sources-INITIAL_FORMS": "0",
            },
        )
    )
    assert f'Next step: <a href="{reverse("runs-profile-create")}">create a load profile</a>' in html
    html = message_after(
        c.post(
            reverse("runs-profile-create"),
            {"name": "Flat", "kind": "constant", "p_constant_users": "2", "p_constant_duration": "5"},
        )
    )
    assert f'Next step: <a href="{reverse("runs-plan-create")}">create a test plan</a>' in html
    html = message_after(
        c.post(
            reverse("runs-plan-create"),
            {
                "name": "Smoke",
                "target": Target.objects.get().pk,
                "scenario": Scenario.objects.get().pk,
                "profile": LoadProfile.objects.get().pk,
                "generators": "1",
            },
        )
    )
    assert "Next step: start a run with the “Start run” button." in html
    # With all four, the dashboard no longer shows the steps, and the quick test folds away
    # once the team has run something.
    dashboard = c.get(reverse("runs-dashboard")).content.decode()
    assert 'id="setup-steps"' not in dashboard
