"""Forms of the scenario import: the input (paste or upload) and the preview's choices."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from runs.models import Scenario
from runs.services.scenario_import import MAX_IMPORT_BYTES


class ScenarioImportForm(forms.Form):
    FORMATS = [
        ("auto", "Detect"),
        ("curl", "cURL command(s)"),
        ("har", "HAR file (browser devtools → Network → Save all as HAR)"),
        ("openapi", "OpenAPI 3 document (JSON or YAML)"),
    ]

    format = forms.ChoiceField(choices=FORMATS, initial="auto", label="What it is")
    text = forms.CharField(
        required=False,
        strip=False,
        label="Paste it here",
        widget=forms.Textarea(
            attrs={
                "rows": 10,
                "spellcheck": "false",
                "placeholder": "curl 'https://shop.example.com/api/items' -H 'accept: application/json'",
            }
        ),
    )
    file = forms.FileField(
        required=False,
        label="…or upload a file",
        help_text="A .har, .json, .yaml or .txt file, at most 10 MB.",
    )
    base_url = forms.CharField(
        required=False,
        max_length=500,
        label="Base URL (optional)",
        help_text="HAR: keep only requests under it (e.g. https://shop.example.com/api). OpenAPI: "
        "use it instead of the document's server. Paths are made relative to it.",
    )
    include_static = forms.BooleanField(
        required=False, label="HAR: keep images, fonts, style sheets and scripts"
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        upload = data.get("file")
        if upload is not None:
            if upload.size > MAX_IMPORT_BYTES:
                raise forms.ValidationError("The file is larger than 10 MB.")
            try:
                data["text"] = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise forms.ValidationError("The file is not UTF-8 text.") from None
        if not (data.get("text") or "").strip():
            raise forms.ValidationError(
                "Paste a cURL command, a HAR file or an OpenAPI document, or upload a file."
            )
        return data


class ScenarioImportSaveForm(forms.Form):
    name = forms.CharField(max_length=200, strip=True, label="Scenario name")
    mode = forms.ChoiceField(choices=Scenario.Mode.choices, label="Step order")
    steps_json = forms.CharField(widget=forms.HiddenInput, strip=False)
    include = forms.TypedMultipleChoiceField(coerce=int, required=False, choices=())
    keep_secret = forms.MultipleChoiceField(required=False, choices=())

    def __init__(
        self, *args: Any, step_count: int = 0, secret_keys: list[str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["include"]).choices = [
            (str(i), str(i)) for i in range(step_count)
        ]
        cast(forms.ChoiceField, self.fields["keep_secret"]).choices = [(k, k) for k in secret_keys or []]
