"""Forms: validate what users type and explain what is wrong, field by field.

Forms never save; views hand ``cleaned_data`` to ``runs.services.catalog``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

from django import forms
from django.conf import settings

from runs import profiles, thresholds
from runs.access import MAX_ID
from runs.cron import CronError, cron_parse
from runs.engine import scenario_vars as sv
from runs.locustfiles import locustfile_problems
from runs.models import (
    METHODS,
    LoadProfile,
    Membership,
    Run,
    Scenario,
    ScenarioDataSource,
    ScenarioStep,
    Target,
    Team,
    TestPlan,
)
from runs.safety import Refused
from runs.selectors_analysis import MAX_COMPARE_RUNS
from runs.services.annotations import TAG_RE, AnnotationError, annotations_clean
from runs.services.safety import target_save_check

JSON_ATTRS = {"rows": 3, "spellcheck": "false", "class": "mono"}
LOCUSTFILE_NOT_ALLOWED = (
    "Locustfile scenarios are not allowed for this team; an operator can allow them in the admin."
)


def parse_expected_statuses(text: str) -> list[tuple[int, int]]:
    """Parse "200-299,304" into inclusive ranges. Raises ValueError with a user-facing message."""
    ranges: list[tuple[int, int]] = []
    parts = [p.strip() for p in (text or "").split(",")]
    if not any(parts):
        raise ValueError("Give at least one status code or range, e.g. 200-299,304.")
    for part in parts:
        if not part:
            raise ValueError("Remove the empty entry between commas.")
        low_s, sep, high_s = part.partition("-")
        try:
            low = int(low_s.strip())
            high = int(high_s.strip()) if sep else low
        except ValueError:
            raise ValueError(f"“{part}” is not a status code or a range like 200-299.") from None
        for code in (low, high):
            if not 100 <= code <= 599:
                raise ValueError(f"{code} is not an HTTP status code (100–599).")
        if low > high:
            raise ValueError(f"The range {low}-{high} is backwards; write {high}-{low}.")
        ranges.append((low, high))
    return ranges


def _where(exc: json.JSONDecodeError) -> str:
    return f"{exc.msg} (line {exc.lineno}, column {exc.colno})."


def _json_object(value: Any, what: str) -> dict[str, Any]:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise forms.ValidationError(f'{what} must be a JSON object, e.g. {{"name": "value"}}.')
    return value


def _string_map(value: Any, what: str) -> dict[str, Any]:
    value = _json_object(value, what)
    for key, item in value.items():
        if not isinstance(item, (str, int, float)) or isinstance(item, bool):
            raise forms.ValidationError(f"{what}: the value of “{key}” must be a string or a number.")
    return {k: str(v) for k, v in value.items()}


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return isinstance(value, list) and any(_has_nul(v) for v in value)


class JSONObjectField(forms.JSONField):
    """A JSON textarea whose parse errors say where the JSON broke."""

    def to_python(self, value: Any) -> Any:
        if self.disabled or value in self.empty_values:
            return None
        if isinstance(value, (list, dict, int, float)):
            return value
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {_where(exc)}", code="invalid") from None
        if _has_nul(parsed):  # PostgreSQL's jsonb cannot store \u0000
            raise forms.ValidationError(
                "JSON here cannot contain the NUL character (\\u0000).", code="invalid"
            )
        return parsed

    def prepare_value(self, value: Any) -> Any:
        if value in ({}, None):
            return ""
        return super().prepare_value(value)


class TargetForm(forms.ModelForm):
    headers = JSONObjectField(
        required=False,
        widget=forms.Textarea(attrs={**JSON_ATTRS, "placeholder": '{"Accept": "application/json"}'}),
        help_text="Sent with every request, as a JSON object.",
    )
    auth_password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to keep the saved password.",
    )
    auth_token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Leave empty to keep the saved token.",
    )

    class Meta:
        model = Target
        fields = [
            "name",
            "base_url",
            "headers",
            "auth_type",
            "auth_username",
            "auth_password",
            "auth_token",
            "verify_tls",
            "timeout_seconds",
        ]
        labels = {
            "base_url": "Base URL",
            "verify_tls": "Verify TLS certificates",
            "timeout_seconds": "Timeout (s)",
        }
        widgets = {"base_url": forms.URLInput(attrs={"placeholder": "https://staging.example.com"})}

    def clean_base_url(self) -> str:
        url = (self.cleaned_data.get("base_url") or "").strip().rstrip("/")
        try:
            if url:  # loopback, private and metadata addresses only when allowlisted (runs.safety)
                target_save_check(base_url=url)
        except Refused as exc:
            raise forms.ValidationError(str(exc)) from None
        return url

    def clean_headers(self) -> dict[str, Any]:
        return _string_map(self.cleaned_data.get("headers"), "Headers")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        # Secrets are never echoed back into the page; an empty box keeps the saved value.
        for name in ("auth_password", "auth_token"):
            if not data.get(name) and self.instance.pk:
                data[name] = getattr(self.instance, name)
        auth = data.get("auth_type")
        if auth == Target.Auth.BASIC and not data.get("auth_username"):
            self.add_error("auth_username", "Basic authentication needs a username.")
        if auth == Target.Auth.BEARER and not data.get("auth_token"):
            self.add_error("auth_token", "Bearer authentication needs a token.")
        return data


class ScenarioForm(forms.ModelForm):
    class Meta:
        model = Scenario
        fields = [
            "name",
            "description",
            "kind",
            "mode",
            "locustfile",
            "user_class",
            "think_time_min",
            "think_time_max",
        ]
        labels = {
            "think_time_min": "Think time min (s)",
            "think_time_max": "Think time max (s)",
            "kind": "Scenario type",
            "mode": "Step order",
        }
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "locustfile": forms.Textarea(attrs={**JSON_ATTRS, "rows": 16}),
        }
        help_texts = {
            "locustfile": (
                "Python with HttpUser or FastHttpUser classes. Their host is forced to the plan's target and "
                "the load shape comes from the plan's profile (no LoadTestShape)."
            ),
        }

    def __init__(self, *args: Any, locustfiles_allowed: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.locustfiles_allowed = locustfiles_allowed
        # Pages (and clients) that predate these fields post neither: the defaults apply.
        self.fields["kind"].required = False
        self.fields["mode"].required = False
        cast(
            forms.CharField, self.fields["locustfile"]
        ).strip = False  # Python: indentation and trailing lines are kept
        if (
            not locustfiles_allowed
            and (self.instance.kind or Scenario.Kind.STEPS) != Scenario.Kind.LOCUSTFILE
        ):
            cast(forms.ChoiceField, self.fields["kind"]).choices = [
                c for c in Scenario.Kind.choices if c[0] != Scenario.Kind.LOCUSTFILE
            ]

    @property
    def is_locustfile(self) -> bool:
        return str(self["kind"].value() or "") == Scenario.Kind.LOCUSTFILE

    def clean_kind(self) -> str:
        kind = self.cleaned_data.get("kind") or Scenario.Kind.STEPS
        if kind == Scenario.Kind.LOCUSTFILE and not self.locustfiles_allowed:
            raise forms.ValidationError(LOCUSTFILE_NOT_ALLOWED)
        return kind

    def clean_mode(self) -> str:
        return self.cleaned_data.get("mode") or Scenario.Mode.WEIGHTED

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("kind") == Scenario.Kind.LOCUSTFILE:
            for problem in locustfile_problems(data.get("locustfile") or ""):
                self.add_error("locustfile", problem)
        low, high = data.get("think_time_min"), data.get("think_time_max")
        for name in ("think_time_min", "think_time_max"):
            if data.get(name) is not None and data[name] < 0:
                self.add_error(name, "Think time cannot be negative.")
        if low is not None and high is not None and low > high and not self.has_error("think_time_min"):
            self.add_error("think_time_max", f"Must be at least the minimum ({low:g} s).")
        return data


class StepForm(forms.ModelForm):
    query = JSONObjectField(
        required=False,
        widget=forms.Textarea(attrs={**JSON_ATTRS, "rows": 2, "placeholder": '{"page": 1}'}),
        help_text="Query string parameters as a JSON object.",
    )
    headers = JSONObjectField(
        required=False,
        widget=forms.Textarea(attrs={**JSON_ATTRS, "rows": 2, "placeholder": '{"X-Trace": "1"}'}),
        help_text="Extra headers as a JSON object.",
    )
    extract = forms.CharField(
        required=False,
        label="Extract",
        widget=forms.Textarea(
            attrs={
                **JSON_ATTRS,
                "rows": 2,
                "placeholder": "token = json:access_token\nsession = header:X-Session",
            }
        ),
        help_text="One per line: name = json:dotted.path, header:Name or regex:pattern. Sequence mode only.",
    )

    class Meta:
        model = ScenarioStep
        fields = [
            "name",
            "method",
            "path",
            "query",
            "headers",
            "body_type",
            "body",
            "weight",
            "expected_statuses",
            "extract",
        ]
        labels = {"expected_statuses": "Expected status codes"}
        widgets = {
            "body": forms.Textarea(attrs={**JSON_ATTRS, "rows": 3}),
            "weight": forms.NumberInput(attrs={"min": 1, "max": 1000}),
        }
        error_messages = {
            "method": {
                "invalid_choice": "Unknown method %(value)s; use one of " + ", ".join(METHODS) + ".",
            },
        }

    def clean_path(self) -> str:
        path = (self.cleaned_data.get("path") or "").strip()
        if not path.startswith("/"):
            raise forms.ValidationError("The path must start with “/”, e.g. /api/items.")
        if any(c.isspace() for c in path):
            raise forms.ValidationError("The path cannot contain spaces; encode them as %20.")
        return path

    def clean_query(self) -> dict[str, Any]:
        value = _json_object(self.cleaned_data.get("query"), "Query")
        for key, item in value.items():
            if isinstance(item, dict):
                raise forms.ValidationError(f"Query: the value of “{key}” cannot be an object.")
        return value

    def clean_headers(self) -> dict[str, Any]:
        return _string_map(self.cleaned_data.get("headers"), "Headers")

    def clean_extract(self) -> list[dict[str, str]]:
        try:
            rules = sv.parse_extractions(self.cleaned_data.get("extract") or "")
        except sv.ExtractionSyntaxError as exc:
            raise forms.ValidationError(str(exc)) from None
        return [{"var": r.var, "source": r.source, "expr": r.expr} for r in rules]

    def clean_expected_statuses(self) -> str:
        text = (self.cleaned_data.get("expected_statuses") or "").replace(" ", "")
        try:
            parse_expected_statuses(text)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return text

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        body_type, body = data.get("body_type"), data.get("body") or ""
        for where, text in sv.step_template_texts({**data, "body_type": "text"}):
            if sv.has_template(text):
                try:
                    sv.compile_template(text)
                except sv.TemplateError as exc:
                    field = where if where in ("path", "body") else None
                    self.add_error(field, f"{where}: {exc}")
        if body_type == ScenarioStep.BodyType.JSON and not self.has_error("body"):
            try:
                # Variables stand for values: check the JSON with each one as 0 ("${n}" and ${n} both parse).
                probe = sv.compile_template(body)
                json.loads(probe.render(dict.fromkeys(probe.names, "0")))
            except json.JSONDecodeError as exc:
                self.add_error("body", f"The body is not valid JSON: {_where(exc)}")
        elif body_type == ScenarioStep.BodyType.NONE and body.strip():
            self.add_error("body_type", "Choose JSON or Text for a request with a body, or clear the body.")
        if data.get("method") in ("GET", "HEAD") and body_type not in (None, ScenarioStep.BodyType.NONE):
            self.add_error("body_type", f"{data['method']} requests do not send a body.")
        return data


class BaseStepFormSet(forms.BaseFormSet):
    """Rows already on the page count as steps; rows added and left untouched are ignored."""

    def _kept(self) -> list[forms.Form]:
        return [
            f
            for f in self.ordered_forms
            # Django's own helper; django-stubs leave out this private method.
            if f.cleaned_data and not self._should_delete_form(f)  # type: ignore[attr-defined]
        ]

    def clean(self) -> None:
        if any(self.errors):
            return
        if not self._kept():
            raise forms.ValidationError("Add at least one request step.")

    def steps(self) -> list[Mapping[str, Any]]:
        """Cleaned steps in the order the user gave, without deleted or untouched blank rows."""
        return [
            {k: v for k, v in f.cleaned_data.items() if k not in ("ORDER", "DELETE")} for f in self._kept()
        ]


# formset_factory returns a subclass of ``formset``; the stubs type it as the plain base class.
StepFormSet = cast(
    "type[BaseStepFormSet]",
    forms.formset_factory(
        StepForm,
        formset=BaseStepFormSet,
        extra=0,
        can_delete=True,
        can_order=True,
        max_num=100,
        validate_max=True,
    ),
)


def step_formset(*, data: Any = None, scenario: Scenario | None = None) -> BaseStepFormSet:
    if data is not None:
        return StepFormSet(data=data, prefix="steps")
    initial = []
    if scenario is not None:
        initial = list(scenario.steps.values(*StepForm.Meta.fields))
        for row in initial:
            row["extract"] = sv.extractions_to_text(row["extract"] or [])
    # A new scenario starts with one blank step to fill in.
    return StepFormSet(initial=initial or [{"method": "GET", "path": "/"}], prefix="steps")


class SourceForm(forms.Form):
    """One data source: a CSV upload (kept from the saved scenario when no new file is
    chosen) or a list typed in. ``parsed`` holds what the service stores."""

    kind = forms.ChoiceField(
        choices=ScenarioDataSource.Kind.choices, initial=ScenarioDataSource.Kind.LIST, label="Source"
    )
    mode = forms.ChoiceField(
        choices=ScenarioDataSource.Mode.choices,
        initial=ScenarioDataSource.Mode.SEQUENTIAL,
        label="Each iteration takes",
    )
    variable = forms.CharField(required=False, max_length=100, label="Variable name (list)")
    values = forms.CharField(
        required=False,
        label="Values (list), one per line",
        widget=forms.Textarea(attrs={**JSON_ATTRS, "rows": 3}),
    )
    csv_file = forms.FileField(required=False, label="CSV file (header row = variable names)")
    source_id = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(
        self, *args: Any, existing: dict[int, ScenarioDataSource] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.existing = existing or {}
        self.parsed: dict[str, Any] = {}

    @property
    def saved_csv(self) -> ScenarioDataSource | None:
        raw = self["source_id"].value()
        try:
            source = self.existing.get(int(raw)) if raw not in (None, "") else None
        except (TypeError, ValueError):
            return None
        return source if source is not None and source.kind == ScenarioDataSource.Kind.CSV else None

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        kind, mode = data.get("kind"), data.get("mode")
        if not kind or not mode:
            return data
        try:
            if kind == ScenarioDataSource.Kind.CSV:
                upload = data.get("csv_file")
                if upload is not None:
                    if upload.size > sv.MAX_SOURCE_BYTES:
                        megabytes = sv.MAX_SOURCE_BYTES // (1024 * 1024)
                        raise sv.DataSourceError(f"The file is larger than {megabytes} MB.")
                    columns, rows = sv.parse_csv(upload.read())
                    filename = str(upload.name)[:255]
                elif (saved := self.saved_csv) is not None:
                    columns, rows, filename = list(saved.columns), saved.rows, saved.filename
                else:
                    self.add_error("csv_file", "Choose a CSV file.")
                    return data
            else:
                columns, rows = sv.parse_list(data.get("values") or "", data.get("variable") or "")
                filename = ""
        except sv.DataSourceError as exc:
            self.add_error("csv_file" if kind == ScenarioDataSource.Kind.CSV else "values", str(exc))
            return data
        self.parsed = {"kind": kind, "mode": mode, "filename": filename, "columns": columns, "rows": rows}
        return data


class BaseSourceFormSet(forms.BaseFormSet):
    def __init__(
        self, *args: Any, existing: dict[int, ScenarioDataSource] | None = None, **kwargs: Any
    ) -> None:
        self.existing = existing or {}
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        return {"existing": self.existing}

    def _kept(self) -> list[SourceForm]:
        """Sources on the page, less deleted ones and added rows left untouched."""
        return [
            f
            for f in self.forms  # type: ignore[misc]
            # Django's own helper; django-stubs leave out this private method.
            if (f.has_changed() or f["source_id"].value()) and not self._should_delete_form(f)  # type: ignore[attr-defined]
        ]

    def clean(self) -> None:
        if any(self.errors):
            return
        seen: dict[str, int] = {}
        for number, form in enumerate(self._kept(), start=1):
            for name in form.parsed.get("columns", []):
                if name in seen:
                    raise forms.ValidationError(
                        f"The variable “{name}” comes from data sources {seen[name]} "
                        f"and {number}; rename one."
                    )
                seen[name] = number

    def sources(self) -> list[Mapping[str, Any]]:
        return [f.parsed for f in self._kept() if f.parsed]

    def names(self) -> set[str]:
        return {name for source in self.sources() for name in source["columns"]}


SourceFormSet = cast(
    "type[BaseSourceFormSet]",
    forms.formset_factory(
        SourceForm, formset=BaseSourceFormSet, extra=0, can_delete=True, max_num=10, validate_max=True
    ),
)


def source_formset(
    *, data: Any = None, files: Any = None, scenario: Scenario | None = None
) -> BaseSourceFormSet:
    existing = {s.pk: s for s in scenario.sources.all()} if scenario is not None else {}
    if data is not None:
        if "sources-TOTAL_FORMS" not in data:  # a client that predates data sources
            data = {"sources-TOTAL_FORMS": "0", "sources-INITIAL_FORMS": "0"}
        return SourceFormSet(data=data, files=files, prefix="sources", existing=existing)
    initial = [
        {
            "kind": s.kind,
            "mode": s.mode,
            "source_id": s.pk,
            "variable": s.columns[0] if s.kind == ScenarioDataSource.Kind.LIST else "",
            "values": "\n".join(r[0] for r in s.rows) if s.kind == ScenarioDataSource.Kind.LIST else "",
        }
        for s in existing.values()
    ]
    return SourceFormSet(initial=initial, prefix="sources", existing=existing)


def scenario_variables_check(form: ScenarioForm, steps: BaseStepFormSet, sources: BaseSourceFormSet) -> bool:
    """Across the three forms (all valid): extraction needs the sequence mode, and every
    ``${name}`` must come from a data source or (in sequence mode) an earlier step's
    extraction. Adds the errors to the steps concerned; True when there are none."""
    if form.cleaned_data.get("kind") == Scenario.Kind.LOCUSTFILE:
        return True
    mode = form.cleaned_data.get("mode") or Scenario.Mode.WEIGHTED
    kept = steps._kept()
    ok = True
    if mode != Scenario.Mode.SEQUENCE:
        for f in kept:
            if f.cleaned_data.get("extract"):
                f.add_error("extract", "Extracting values needs the step order “Sequence”: choose it above.")
                ok = False
    cleaned: list[Mapping[str, Any]] = [f.cleaned_data for f in kept]
    for index, missing in sv.undefined_variables(mode=mode, source_names=sources.names(), steps=cleaned):
        shown = ", ".join("${" + name + "}" for name in missing)
        if mode == Scenario.Mode.SEQUENCE:
            where = "neither a data source nor an earlier step’s extraction defines"
        else:
            where = "no data source defines (in weighted mode only data sources define variables)"
        kept[index].add_error(None, f"This step uses {shown}, which {where}.")
        ok = False
    return ok


def profile_field_name(kind: str, name: str) -> str:
    return f"p_{kind}_{name}"


class ProfileParamsForm(forms.Form):
    """The kind and its parameters; the live preview validates with this alone."""

    kind = forms.ChoiceField(choices=LoadProfile.KIND_CHOICES, initial="constant")
    stages_json = forms.CharField(
        required=False,
        label="Stages",
        widget=forms.Textarea(
            attrs={
                **JSON_ATTRS,
                "rows": 5,
                "placeholder": (
                    '[{"duration": 30, "users": 10, "spawn_rate": 2}, {"duration": 60, "users": 10}]'
                ),
            }
        ),
        help_text="A JSON list of {duration (s), users, spawn_rate (users/s, optional)}.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for kind, fields in profiles.FIELDS.items():
            for name, label, num_kind, _required, default in fields:
                attrs = {"step": "1" if num_kind == "int" else "any", "data-kind": kind}
                self.fields[profile_field_name(kind, name)] = forms.CharField(
                    label=label,
                    required=False,
                    initial=default,
                    widget=forms.NumberInput(attrs=attrs),
                )
        self.params: dict[str, Any] = {}

    @property
    def open_model_kinds(self) -> str:
        """Space-separated arrival-rate kinds, for the preview script's axis label."""
        return " ".join(profiles.OPEN_MODEL_KINDS)

    @property
    def is_open_model(self) -> bool:
        return profiles.is_open_model(str(self["kind"].value() or ""))

    def kind_fields(self) -> list[tuple[str, str, list[forms.BoundField]]]:
        """(kind, label, bound fields) for the template's per-kind fieldsets."""
        out = []
        for kind in profiles.KINDS:
            names = [profile_field_name(kind, f[0]) for f in profiles.FIELDS[kind]]
            if kind == "stages":
                names = ["stages_json"]
            out.append((kind, profiles.KIND_LABELS[kind], [self[n] for n in names]))
        return out

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        kind = data.get("kind")
        if not kind:
            return data
        raw: dict[str, Any] = {}
        if kind == "stages":
            text = (data.get("stages_json") or "").strip()
            try:
                raw["stages"] = json.loads(text) if text else None
            except json.JSONDecodeError as exc:
                self.add_error("stages_json", f"Not valid JSON: {_where(exc)}")
                return data
        else:
            for name, *_ in profiles.FIELDS[kind]:
                raw[name] = data.get(profile_field_name(kind, name))
        try:
            self.params = profiles.validate_profile(
                kind,
                raw,
                max_users=settings.SCALETEST_MAX_USERS,
                max_seconds=settings.SCALETEST_MAX_RUN_SECONDS,
            )
        except profiles.ProfileError as exc:
            for name, message in exc.errors.items():
                field = "stages_json" if name == "stages" else profile_field_name(kind, name)
                if name == "kind":
                    field = "kind"
                self.add_error(field if field in self.fields else None, message)
        return data


class ProfileForm(ProfileParamsForm):
    name = forms.CharField(max_length=200)
    field_order = ["name", "kind"]

    @classmethod
    def for_profile(cls, profile: LoadProfile) -> ProfileForm:
        initial: dict[str, Any] = {"name": profile.name, "kind": profile.kind}
        if profile.kind == "stages":
            initial["stages_json"] = json.dumps(profile.params.get("stages", []), indent=1)
        else:
            for name, value in profile.params.items():
                initial[profile_field_name(profile.kind, name)] = value
        return cls(initial=initial)


class ThresholdsField(forms.CharField):
    """The line syntax as typed in the form, or (from the API) the stored list of objects;
    ``TestPlanForm.clean_thresholds`` parses either with ``thresholds.parse_thresholds``."""

    def to_python(self, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return list(value)
        return super().to_python(value)


class TestPlanForm(forms.ModelForm):
    __test__ = False

    thresholds = ThresholdsField(
        label="Pass/fail thresholds",
        required=False,
        widget=forms.Textarea(
            attrs={
                "rows": 4,
                "spellcheck": "false",
                "class": "mono",
                "placeholder": "p95 < 500\nerror_rate < 1%",
            }
        ),
        help_text=thresholds.SYNTAX_HELP,
    )
    # Optional in a POST (an older form, a script): left out means a single generator.
    generators = forms.IntegerField(
        required=False,
        initial=1,
        label="Load generators",
        widget=forms.NumberInput(attrs={"min": 1}),
        help_text="Locust worker processes that share the load (one CPU core each); "
        "1 runs a single process. Arrival-rate profiles use 1.",
    )

    class Meta:
        model = TestPlan
        fields = ["name", "target", "scenario", "profile", "generators", "notes", "thresholds"]
        labels = {"profile": "Load profile"}
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the team's own parts can be chosen; another team's id is "not one of the choices".
        cast(forms.ModelChoiceField, self.fields["target"]).queryset = Target.objects.filter(team=team)
        cast(forms.ModelChoiceField, self.fields["scenario"]).queryset = Scenario.objects.filter(team=team)
        cast(forms.ModelChoiceField, self.fields["profile"]).queryset = LoadProfile.objects.filter(team=team)
        stored = self.instance.thresholds if self.instance.pk else []
        try:
            self.initial["thresholds"] = thresholds.thresholds_text(thresholds.parse_thresholds(stored))
        except ValueError:
            self.initial["thresholds"] = ""

    def clean_thresholds(self) -> list[dict[str, Any]]:
        try:
            items = thresholds.parse_thresholds(self.cleaned_data.get("thresholds") or "")
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return [item.to_dict() for item in items]

    def clean_generators(self) -> int:
        value = self.cleaned_data["generators"]
        if value is None:
            return 1
        limit = settings.SCALETEST_MAX_GENERATORS
        if not 1 <= value <= limit:
            raise forms.ValidationError(f"Enter a number of generators from 1 to {limit}.")
        return value

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        profile = data.get("profile")
        if profile is not None and (data.get("generators") or 1) > 1 and profiles.is_open_model(profile.kind):
            self.add_error(
                "generators", "Arrival-rate profiles run on one generator; set 1 or use a users profile."
            )
        scenario, items = data.get("scenario"), data.get("thresholds")
        if scenario is not None and items:
            # Endpoints are named in the results by method and step name (or path).
            known = {(step.method, step.display_name) for step in scenario.steps.all()}
            for item in items:
                key = (item["method"], item["name"])
                if item["method"] is not None and key not in known:
                    names = ", ".join(sorted(f"{m} {n}" for m, n in known)) or "none"
                    self.add_error(
                        "thresholds",
                        f"No step of the scenario “{scenario}” is named “{key[0]} {key[1]}”; "
                        f"its endpoints are: {names}.",
                    )
                    break
        return data


class RunsCompareForm(forms.Form):
    """``?ids=3,5,9`` (or ``ids=3&ids=5``, as the run list's checkboxes submit) and an optional
    ``baseline`` among them. ``cleaned_data["ids"]`` is a list of distinct ids in the given order."""

    ids = forms.CharField(required=False)
    baseline = forms.IntegerField(required=False, min_value=1)

    def __init__(self, query: Any) -> None:
        # Join repeated ids parameters so both URL shapes validate the same way.
        data = {"ids": ",".join(query.getlist("ids")), "baseline": query.get("baseline", "")}
        super().__init__(data)

    def clean_ids(self) -> list[int]:
        raw = [part.strip() for part in self.cleaned_data["ids"].split(",") if part.strip()]
        if not all(part.isascii() and part.isdigit() and len(part) < 12 for part in raw):
            raise forms.ValidationError("Run ids must be whole numbers separated by commas, e.g. ?ids=3,5,9.")
        ids = list(dict.fromkeys(int(part) for part in raw))
        if len(ids) < 2:
            raise forms.ValidationError("Choose at least 2 runs to compare.")
        if len(ids) > MAX_COMPARE_RUNS:
            raise forms.ValidationError(
                f"Compare at most {MAX_COMPARE_RUNS} runs at a time; {len(ids)} were given."
            )
        return ids

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        ids, baseline = data.get("ids"), data.get("baseline")
        if ids and baseline is not None and baseline not in ids:
            self.add_error("baseline", "The baseline must be one of the compared runs.")
        return data


class CompareWindowForm(RunsCompareForm):
    """The comparison overlays' zoom: ``?ids=3,5&from=120&to=480`` (seconds since the start)."""

    MAX_SPAN = 7 * 24 * 3600

    start = forms.IntegerField(min_value=0, max_value=MAX_SPAN)
    end = forms.IntegerField(min_value=0, max_value=MAX_SPAN)

    def __init__(self, query: Any) -> None:
        super().__init__(query)
        self.data = {**self.data, "start": query.get("from", ""), "end": query.get("to", "")}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start is not None and end is not None and end <= start:
            self.add_error("end", "The end of the window must be after its start.")
        return data


class TeamForm(forms.Form):
    name = forms.CharField(max_length=200, strip=True)


class MemberAddForm(forms.Form):
    username = forms.CharField(max_length=150, strip=True)
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.VIEWER)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


class TeamSwitchForm(forms.Form):
    team = forms.IntegerField(min_value=1)
    next = forms.CharField(required=False, max_length=2000)


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True, help_text="What uses it, e.g. “nightly CI”.")
    expires_in_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=3650,
        label="Expires after (days)",
        help_text="Leave empty for a token that does not expire.",
    )


class RunAnnotationForm(forms.Form):
    """Version, tags and notes of a run (on its page, or when starting a plan)."""

    version = forms.CharField(required=False, max_length=200, strip=True, label="Version / commit")
    tags = forms.CharField(
        required=False,
        max_length=1000,
        strip=True,
        help_text="Short labels separated by commas, e.g. before-deploy, db-v2.",
    )
    notes = forms.CharField(required=False, max_length=20000, widget=forms.Textarea(attrs={"rows": 3}))

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.errors:
            return data
        try:
            data["annotations"] = annotations_clean(
                version=data.get("version", ""), tags=data.get("tags", ""), notes=data.get("notes", "")
            )
        except AnnotationError as exc:
            for field, message in exc.errors.items():
                self.add_error(field, message)
        return data


class RunListFilterForm(forms.Form):
    """``?tag=before-deploy&version=v1.4&plan=3&trigger=scheduled`` on the run list."""

    tag = forms.CharField(required=False, max_length=64, strip=True)
    version = forms.CharField(required=False, max_length=200, strip=True)
    plan = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    trigger = forms.ChoiceField(required=False, choices=[("", "any trigger")])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["trigger"]).choices = [("", "any trigger"), *Run.Trigger.choices]

    def clean_tag(self) -> str:
        tag = (self.cleaned_data.get("tag") or "").lower()
        if tag and not TAG_RE.match(tag):
            raise forms.ValidationError("Tags use lower-case letters, digits, “.”, “_” and “-”.")
        return tag


class ShareCreateForm(forms.Form):
    label = forms.CharField(required=False, max_length=200, strip=True)
    expires_in_days = forms.IntegerField(
        required=False, min_value=1, max_value=365, label="Expires after (days)", help_text="Empty: never."
    )


class PlanScheduleForm(forms.Form):
    schedule = forms.CharField(
        required=False,
        max_length=100,
        strip=True,
        label="Cron schedule",
        help_text="minute hour day-of-month month day-of-week, e.g. “0 3 * * 1-5”; empty: no schedule.",
    )

    def clean_schedule(self) -> str:
        value = self.cleaned_data.get("schedule") or ""
        if not value:
            return ""
        try:
            return cron_parse(value).expression
        except CronError as exc:
            raise forms.ValidationError(str(exc)) from None
