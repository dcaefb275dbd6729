"""Scenario forms: the scenario, its steps and its data sources (formsets), a locustfile.

Forms never save; views hand ``cleaned_data`` to ``runs.services.catalog``.
"""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms

from runs.core.engine import scenario_vars as sv
from runs.core.locustfiles import locustfile_problems
from runs.forms.common import JSON_ATTRS, JSONObjectField, json_error_where, json_object, string_map
from runs.models import METHODS, Scenario, ScenarioDataSource, ScenarioStep
from runs.services.catalog import SCENARIO_FIELDS, STEP_FIELDS

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


class ScenarioForm(forms.ModelForm):
    class Meta:
        model = Scenario
        fields = list(SCENARIO_FIELDS)
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
        locustfile = cast(forms.CharField, self.fields["locustfile"])
        locustfile.strip = False  # Python: indentation and trailing lines are kept
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
        fields = list(STEP_FIELDS)
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
        value = json_object(self.cleaned_data.get("query"), "Query")
        for key, item in value.items():
            if isinstance(item, dict):
                raise forms.ValidationError(f"Query: the value of “{key}” cannot be an object.")
        return value

    def clean_headers(self) -> dict[str, Any]:
        return string_map(self.cleaned_data.get("headers"), "Headers")

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
                self.add_error("body", f"The body is not valid JSON: {json_error_where(exc)}")
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
            # The stubs omit BaseFormSet._should_delete_form (a Django method since 1.x).
            if f.cleaned_data and not self._should_delete_form(f)  # type: ignore[attr-defined]
        ]

    def clean(self) -> None:
        if any(self.errors):
            return
        if not self._kept():
            raise forms.ValidationError("Add at least one request step.")

    def steps(self) -> list[dict[str, Any]]:
        """Cleaned steps in the order the user gave, without deleted or untouched blank rows."""
        return [
            {k: v for k, v in f.cleaned_data.items() if k not in ("ORDER", "DELETE")} for f in self._kept()
        ]


# formset_factory returns a subclass of ``formset``; the stubs type it as the plain BaseFormSet.
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
            # The stubs omit BaseFormSet._should_delete_form (a Django method since 1.x).
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
                        f"The variable “{name}” comes from data sources {seen[name]} and {number}; "
                        "rename one."
                    )
                seen[name] = number

    def sources(self) -> list[dict[str, Any]]:
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
    cleaned = [f.cleaned_data for f in kept]
    for index, missing in sv.undefined_variables(mode=mode, source_names=sources.names(), steps=cleaned):
        shown = ", ".join("${" + name + "}" for name in missing)
        if mode == Scenario.Mode.SEQUENCE:
            where = "neither a data source nor an earlier step’s extraction defines"
        else:
            where = "no data source defines (in weighted mode only data sources define variables)"
        kept[index].add_error(None, f"This step uses {shown}, which {where}.")
        ok = False
    return ok
