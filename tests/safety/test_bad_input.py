"""Bad input: whatever a client sends, forms never raise and views never answer 500.

Hypothesis generates form data from each form's own fields (``from_form``) and also throws
arbitrary text (NUL bytes, lone surrogates' UTF-8 stand-ins, huge numbers, JSON of every shape)
at every field of every create/edit view.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from django import forms as dj_forms
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import from_form, register_field_strategy

from runs.core.safety import addresses
from runs.forms.common import JSONObjectField
from runs.forms.compare import RunsCompareForm
from runs.forms.plans import TestPlanForm, ThresholdsField
from runs.forms.profiles import ProfileForm, ProfileParamsForm
from runs.forms.scenarios import ScenarioForm, StepForm
from runs.forms.targets import TargetForm
from runs.models import LoadProfile

HYPOTHESIS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ANY_TEXT = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "null",
            "[]",
            "{}",
            '{"a": "\\u0000"}',
            '{"a": {"b": 1}}',
            "1e309",
            "-1",
            "0",
            "NaN",
            "9" * 40,
            "http://[::1",
            "http://0x7f.1",
            "<script>alert(1)</script>",
        ]
    ),
    st.from_regex(r"\A\{(\"[a-z\x00]{0,3}\": (\"[^\"\\\\]{0,5}\"|[0-9]{1,3}|null|true),? ?){0,3}\}\Z"),
)

register_field_strategy(JSONObjectField, ANY_TEXT)


@pytest.fixture(autouse=True)
def offline_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Generated host names must not reach real DNS: they resolve to a documentation address or not at all."""

    def resolver(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        try:
            return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
        except (OSError, UnicodeError):
            if len(host) % 2:
                raise socket.gaierror(socket.EAI_NONAME, "no such host") from None
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

    monkeypatch.setattr(addresses, "system_resolver", resolver)


@pytest.fixture
def client(alice: Any) -> Client:
    c = Client(raise_request_exception=False)
    c.force_login(alice)
    return c


def _model_choice_strategies(form_class: type[dj_forms.ModelForm[Any]]) -> dict[str, Any]:
    return {
        name: st.one_of(st.none(), st.integers(min_value=-2, max_value=10**12))
        for name, field in form_class.base_fields.items()
        if isinstance(field, dj_forms.ModelChoiceField)
    } | {
        # Our own field types Hypothesis cannot infer: any text, as a browser may post.
        name: ANY_TEXT
        for name, field in form_class.base_fields.items()
        if isinstance(field, ThresholdsField)
    }


FORMS = [TargetForm, ScenarioForm, StepForm, TestPlanForm]


def _form_kwargs(form_class: type[dj_forms.BaseForm], team: Any) -> dict[str, Any]:
    return {"team": team} if form_class is TestPlanForm else {}


@pytest.mark.parametrize("form_class", FORMS, ids=lambda f: f.__name__)
def test_model_forms_never_raise_on_generated_data(team: Any, form_class: type[dj_forms.ModelForm]) -> None:
    kwargs = _form_kwargs(form_class, team)

    @HYPOTHESIS
    @given(st.data())
    def check(data: st.DataObject) -> None:
        # from_form handles model forms too; its annotation names only Form.
        strategy = from_form(form_class, form_kwargs=kwargs, **_model_choice_strategies(form_class))  # type: ignore[arg-type]
        form = data.draw(strategy)
        form.is_valid()  # must not raise, whatever it decides
        bound = form_class(data={k: data.draw(ANY_TEXT) for k in form_class.base_fields}, **kwargs)
        bound.is_valid()

    check()


def test_profile_forms_never_raise_on_generated_data(db: None) -> None:
    names = list(ProfileForm().fields)

    @HYPOTHESIS
    @given(
        st.sampled_from([k for k, _ in LoadProfile.KIND_CHOICES] + ["nope", ""]),
        st.dictionaries(st.sampled_from(names), ANY_TEXT),
    )
    def check(kind: str, values: dict[str, str]) -> None:
        for form_class in (ProfileForm, ProfileParamsForm):
            form_class(data={**values, "kind": kind}).is_valid()

    check()


def test_the_compare_form_never_raises(db: None) -> None:
    from django.http import QueryDict

    @HYPOTHESIS
    @given(st.lists(ANY_TEXT, max_size=4), ANY_TEXT)
    def check(ids: list[str], baseline: str) -> None:
        query = QueryDict(mutable=True)
        for value in ids:
            query.appendlist("ids", value.replace("\x00", ""))
        query["baseline"] = baseline.replace("\x00", "")
        RunsCompareForm(query).is_valid()

    check()


VIEWS = {
    "/targets/new/": list(TargetForm.base_fields),
    "/scenarios/new/": [
        *ScenarioForm.base_fields,
        "steps-TOTAL_FORMS",
        "steps-INITIAL_FORMS",
        *(f"steps-0-{k}" for k in [*StepForm.base_fields, "ORDER", "DELETE"]),
    ],
    "/profiles/new/": list(ProfileForm().fields),
    "/profiles/preview.json": list(ProfileParamsForm().fields),
    "/plans/new/": list(TestPlanForm.base_fields),
}


@pytest.mark.parametrize("url", VIEWS, ids=lambda u: u.strip("/").replace("/", "-"))
def test_views_answer_generated_posts_without_server_errors(db: None, client: Client, url: str) -> None:
    @HYPOTHESIS
    @given(st.dictionaries(st.sampled_from(VIEWS[url]), ANY_TEXT))
    def check(data: dict[str, str]) -> None:
        response = client.get(url, data) if url.endswith(".json") else client.post(url, data)
        assert response.status_code in (200, 302, 400), (response.status_code, data)

    check()


def test_views_answer_posts_generated_by_the_forms_without_server_errors(team: Any, client: Client) -> None:
    @HYPOTHESIS
    @given(st.data())
    def check(data: st.DataObject) -> None:
        for url, form_class in (("/targets/new/", TargetForm), ("/plans/new/", TestPlanForm)):
            form = data.draw(
                from_form(
                    form_class,  # type: ignore[arg-type]  # model forms work too; the annotation says Form
                    form_kwargs=_form_kwargs(form_class, team),
                    **_model_choice_strategies(form_class),
                )
            )
            payload = {k: ("" if v is None else v) for k, v in form.data.items()}
            response = client.post(url, payload)
            assert response.status_code in (200, 302, 400), (url, response.status_code, payload)

    check()


NUL_CASES = [
    (
        "/targets/new/",
        {
            "name": "T",
            "base_url": "http://127.0.0.1:9",
            "auth_type": "none",
            "timeout_seconds": "5",
            "headers": '{"X-A": "\\u0000"}',
        },
    ),
    (
        "/targets/new/",
        {
            "name": "T",
            "base_url": "http://127.0.0.1:9",
            "auth_type": "none",
            "timeout_seconds": "5",
            "headers": '{"\\u0000": "1"}',
        },
    ),
    (
        "/scenarios/new/",
        {
            "name": "S",
            "user_class": "fast",
            "think_time_min": "0",
            "think_time_max": "0",
            "steps-TOTAL_FORMS": "1",
            "steps-INITIAL_FORMS": "0",
            "steps-0-method": "GET",
            "steps-0-path": "/",
            "steps-0-weight": "1",
            "steps-0-expected_statuses": "200",
            "steps-0-body_type": "none",
            "steps-0-query": '{"q": ["\\u0000"]}',
        },
    ),
]


@pytest.mark.parametrize(("url", "data"), NUL_CASES)
def test_a_nul_escaped_inside_json_is_a_form_error_not_a_server_error(
    db: None, client: Client, url: str, data: dict[str, str]
) -> None:
    # PostgreSQL's jsonb cannot store \u0000; it must be refused before it gets there.
    assert client.post(url, data).status_code in (200, 302)
