"""Load profile forms: one field per parameter of each kind (``runs.core.profiles.FIELDS``)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings

from runs.core import profiles
from runs.forms.common import JSON_ATTRS, json_error_where
from runs.models import LoadProfile


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
                widget: forms.Widget
                if num_kind == "text":
                    # The search objective: threshold lines, as on the plan form.
                    widget = forms.Textarea(
                        attrs={"rows": 2, "data-kind": kind, "placeholder": "p95 < 300 ms"}
                    )
                else:
                    attrs = {"step": "1" if num_kind == "int" else "any", "data-kind": kind}
                    widget = forms.NumberInput(attrs=attrs)
                self.fields[profile_field_name(kind, name)] = forms.CharField(
                    label=label,
                    required=False,
                    initial=default,
                    strip=num_kind != "text",
                    widget=widget,
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
                self.add_error("stages_json", f"Not valid JSON: {json_error_where(exc)}")
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
