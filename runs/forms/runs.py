"""Run forms: a run's annotations (version, tags, notes) and the run list's filter."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from runs.access import MAX_ID


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
        from runs.services.annotations import AnnotationError, annotations_clean

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
        from runs.models import Run

        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["trigger"]).choices = [("", "any trigger"), *Run.Trigger.choices]

    def clean_tag(self) -> str:
        from runs.services.annotations import TAG_RE

        tag = (self.cleaned_data.get("tag") or "").lower()
        if tag and not TAG_RE.match(tag):
            raise forms.ValidationError("Tags use lower-case letters, digits, “.”, “_” and “-”.")
        return tag
