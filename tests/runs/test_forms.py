"""runs.forms: each form explains what is wrong, field by field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runs.forms.plans import TestPlanForm
from runs.forms.profiles import ProfileForm, ProfileParamsForm
from runs.forms.scenarios import ScenarioForm, StepForm, parse_expected_statuses, step_formset
from runs.forms.targets import TargetForm
from runs.models import LoadProfile, Scenario, ScenarioStep, Target


def target_data(**overrides: Any) -> dict[str, Any]:
    data = {"name": "T", "base_url": "https://example.com", "auth_type": "none", "timeout_seconds": "5"}
    return {**data, **overrides}


def step_form_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "",
        "method": "GET",
        "path": "/",
        "query": "",
        "headers": "",
        "body_type": "none",
        "body": "",
        "weight": "1",
        "expected_statuses": "200-399",
    }
    data.update(overrides)
    return data


# --- expected statuses -----------------------------------------------------------------------
def test_expected_statuses_parse_codes_and_ranges():
    assert parse_expected_statuses("200-299,304") == [(200, 299), (304, 304)]
    assert parse_expected_statuses(" 201 ") == [(201, 201)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Give at least one status code"),
        ("200,,304", "Remove the empty entry"),
        ("2xx", "“2xx” is not a status code"),
        ("99", "99 is not an HTTP status code"),
        ("300-200", "The range 300-200 is backwards"),
        ("200-", "“200-” is not a status code"),
    ],
)
def test_expected_statuses_explain_mistakes(text: str, message: str):
    with pytest.raises(ValueError, match=message):
        parse_expected_statuses(text)


# --- targets ---------------------------------------------------------------------------------
@pytest.mark.django_db
def test_target_form_accepts_http_and_https_and_trims_the_slash():
    form = TargetForm(target_data(base_url="http://localhost:8000/"))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["base_url"] == "http://localhost:8000"
    assert form.cleaned_data["headers"] == {}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"base_url": "ftp://example.com"}, "base_url", "Enter an http:// or https:// URL."),
        ({"base_url": "javascript:alert(1)"}, "base_url", "Enter an http:// or https:// URL."),
        ({"base_url": ""}, "base_url", "This field is required."),
        ({"headers": '{"a": '}, "headers", "Not valid JSON: Expecting value (line 1, column 7)."),
        ({"headers": '"text"'}, "headers", "Headers must be a JSON object"),
        ({"headers": '{"a": {"b": 1}}'}, "headers", "the value of “a” must be a string or a number"),
        ({"auth_type": "basic"}, "auth_username", "Basic authentication needs a username."),
        ({"auth_type": "bearer"}, "auth_token", "Bearer authentication needs a token."),
        ({"timeout_seconds": "-1"}, "timeout_seconds", "greater than or equal to 0.1"),
    ],
)
def test_target_form_errors_sit_beside_their_field(overrides: dict[str, str], field: str, message: str):
    form = TargetForm(target_data(**overrides))
    assert not form.is_valid()
    assert any(message in e for e in form.errors[field]), form.errors
    assert not Target.objects.exists()


def test_target_form_keeps_saved_secrets_when_left_empty(team):
    target = Target.objects.create(
        team=team, name="T", base_url="https://example.com", auth_type="bearer", auth_token="tok"
    )
    form = TargetForm(target_data(auth_type="bearer", auth_token=""), instance=target)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["auth_token"] == "tok"


# --- scenarios and steps ---------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"think_time_min": "2", "think_time_max": "1"},
            "think_time_max",
            "Must be at least the minimum (2 s).",
        ),
        ({"think_time_min": "-1", "think_time_max": "1"}, "think_time_min", "Think time cannot be negative."),
    ],
)
def test_scenario_form_checks_think_times(data: dict[str, str], field: str, message: str):
    form = ScenarioForm({"name": "S", "user_class": "fast", **data})
    assert not form.is_valid()
    assert message in form.errors[field]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"method": "BREW"},
            "method",
            "Unknown method BREW; use one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS.",
        ),
        ({"path": "api"}, "path", "The path must start with “/”"),
        ({"path": "/a b"}, "path", "cannot contain spaces"),
        ({"query": "{1: 2}"}, "query", "Not valid JSON"),
        ({"query": '{"a": {"b": 1}}'}, "query", "cannot be an object"),
        ({"headers": "[]"}, "headers", "Headers must be a JSON object"),
        ({"method": "POST", "body_type": "json", "body": '{"a": }'}, "body", "The body is not valid JSON"),
        ({"method": "POST", "body_type": "none", "body": "x"}, "body_type", "Choose JSON or Text"),
        (
            {"method": "GET", "body_type": "text", "body": "x"},
            "body_type",
            "GET requests do not send a body.",
        ),
        ({"weight": "0"}, "weight", "greater than or equal to 1"),
        ({"weight": "5000"}, "weight", "less than or equal to 1000"),
        ({"expected_statuses": "200-299,3o4"}, "expected_statuses", "“3o4” is not a status code"),
    ],
)
def test_step_form_errors_sit_beside_their_field(overrides: dict[str, str], field: str, message: str):
    form = StepForm(step_form_data(**overrides))
    assert not form.is_valid()
    assert any(message in e for e in form.errors[field]), form.errors


@pytest.mark.django_db
def test_step_form_accepts_a_json_post():
    form = StepForm(
        step_form_data(
            method="POST",
            body_type="json",
            body='{"a": [1, 2]}',
            headers='{"X-N": 3}',
            query='{"q": "x", "n": 1}',
            expected_statuses="200-299, 304",
        )
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["headers"] == {"X-N": "3"}
    assert form.cleaned_data["expected_statuses"] == "200-299,304"


@pytest.mark.django_db
def test_step_formset_orders_steps_and_skips_deleted_and_untouched_rows():
    data = {
        "steps-TOTAL_FORMS": "4",
        "steps-INITIAL_FORMS": "2",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
    }
    rows = [
        step_form_data(name="b", ORDER="2"),
        step_form_data(name="gone", ORDER="1", DELETE="on", method="NOPE"),
        step_form_data(name="a", ORDER="1"),
        step_form_data(),  # an added row left as it was
    ]
    for i, row in enumerate(rows):
        data.update({f"steps-{i}-{k}": v for k, v in row.items()})
    formset = step_formset(data=data)
    assert formset.is_valid(), formset.errors
    assert [s["name"] for s in formset.steps()] == ["a", "b"]
    assert not Scenario.objects.exists() and not ScenarioStep.objects.exists()


# --- load profiles ---------------------------------------------------------------------------
def profile_errors(data: dict[str, Any]) -> dict[str, Any]:
    form = ProfileForm({"name": "P", **data})
    assert not form.is_valid()
    return form.errors


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"kind": "constant", "p_constant_users": "-5", "p_constant_duration": "10"},
            "p_constant_users",
            "Must be at least 1.",
        ),
        (
            {"kind": "constant", "p_constant_users": "5", "p_constant_duration": "0"},
            "p_constant_duration",
            "Must be greater than zero.",
        ),
        (
            {"kind": "constant", "p_constant_users": "2.5", "p_constant_duration": "10"},
            "p_constant_users",
            "Users must be a whole number.",
        ),
        (
            {"kind": "constant", "p_constant_users": "99999", "p_constant_duration": "10"},
            "p_constant_users",
            "Must be at most",
        ),
        (
            {
                "kind": "spike",
                "p_spike_base_users": "5",
                "p_spike_peak_users": "3",
                "p_spike_spike_at": "1",
                "p_spike_spike_duration": "1",
                "p_spike_duration": "5",
            },
            "p_spike_peak_users",
            "The peak must be above",
        ),
        (
            {"kind": "stages", "stages_json": '[{"duration": 0, "users": 1}]'},
            "stages_json",
            "Stage 1: duration must be greater than zero.",
        ),
        ({"kind": "stages", "stages_json": "{"}, "stages_json", "Not valid JSON"),
    ],
)
def test_profile_form_maps_profile_errors_to_the_kinds_fields(data: dict[str, str], field: str, message: str):
    errors = profile_errors(data)
    assert any(message in e for e in errors[field]), errors


def test_profile_form_errors_without_a_field_go_to_the_form():
    errors = profile_errors(
        {
            "kind": "staircase",
            "p_staircase_start_users": "1",
            "p_staircase_step_users": "1",
            "p_staircase_step_duration": "4000",
            "p_staircase_steps": "5",
        }
    )
    assert any("the maximum is" in e for e in errors["__all__"])


def test_profile_form_normalises_params_with_the_profile_module():
    form = ProfileForm(
        {
            "name": "P",
            "kind": "ramp",
            "p_ramp_from_users": "0",
            "p_ramp_to_users": "20",
            "p_ramp_duration": "60",
            "p_ramp_users": "ignored",
        }
    )
    assert form.is_valid(), form.errors
    assert form.params == {"from_users": 0, "to_users": 20, "duration": 60, "hold": 0}


def test_profile_form_shows_and_validates_the_arrival_rate_fields():
    form = ProfileForm()
    kinds = {kind: [f.name for f in fields] for kind, _, fields in form.kind_fields()}
    assert kinds["arrival_constant"] == [
        "p_arrival_constant_rate",
        "p_arrival_constant_duration",
        "p_arrival_constant_max_in_flight",
    ]
    assert kinds["arrival_ramp"][-1] == "p_arrival_ramp_max_in_flight"
    assert form.open_model_kinds == "arrival_constant arrival_ramp search_rate"
    ok = ProfileForm(
        {
            "name": "Open",
            "kind": "arrival_ramp",
            "p_arrival_ramp_to_rate": "12.5",
            "p_arrival_ramp_duration": "60",
            "p_arrival_ramp_max_in_flight": "20",
        }
    )
    assert ok.is_valid(), ok.errors
    assert ok.params == {"from_rate": 0, "to_rate": 12.5, "duration": 60, "hold": 0, "max_in_flight": 20}
    assert ok.is_open_model
    errors = profile_errors(
        {
            "kind": "arrival_constant",
            "p_arrival_constant_rate": "0",
            "p_arrival_constant_duration": "10",
            "p_arrival_constant_max_in_flight": "0",
        }
    )
    assert errors["p_arrival_constant_rate"] == ["Must be greater than zero."]
    assert errors["p_arrival_constant_max_in_flight"] == ["At least 1 iteration must be allowed in flight."]


def test_profile_params_form_needs_no_name_for_the_preview():
    form = ProfileParamsForm({"kind": "stages", "stages_json": json.dumps([{"duration": 5, "users": 2}])})
    assert form.is_valid(), form.errors
    assert form.params == {"stages": [{"duration": 5, "users": 2, "spawn_rate": None}]}


def test_profile_form_for_a_saved_profile_prefills_its_kind_fields():
    profile = LoadProfile(name="S", kind="stages", params={"stages": [{"duration": 5, "users": 2}]})
    form = ProfileForm.for_profile(profile)
    assert form["kind"].value() == "stages"
    assert json.loads(form["stages_json"].value()) == [{"duration": 5, "users": 2}]
    saved = LoadProfile(name="C", kind="constant", params={"users": 3, "duration": 9})
    constant = ProfileForm.for_profile(saved)
    assert constant["p_constant_users"].value() == 3


# --- plans -----------------------------------------------------------------------------------
def test_plan_form_requires_its_parts(team):
    form = TestPlanForm({"name": "P", "target": "999"}, team=team)
    assert not form.is_valid()
    assert "Select a valid choice" in form.errors["target"][0]
    assert form.errors["scenario"] == ["This field is required."]
    assert form.errors["profile"] == ["This field is required."]
