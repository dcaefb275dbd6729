"""The metrics source form: a URL the safety checks accept, its series (or a preset), credentials."""

from __future__ import annotations

from typing import Any

from django import forms

from runs.core.metrics import series as series_mod
from runs.core.safety import Refused
from runs.models import MetricSource, Target
from runs.services.safety import target_save_check

SOURCE_FIELDS = (
    "name",
    "kind",
    "url",
    "auth_type",
    "auth_username",
    "auth_password",
    "auth_token",
    "verify_tls",
    "series",
)


class MetricSourceForm(forms.ModelForm):
    series_text = forms.CharField(
        label="Series",
        required=False,
        widget=forms.Textarea(
            attrs={
                "rows": 5,
                "spellcheck": "false",
                "class": "mono",
                "placeholder": "slots_busy | demo_slots_busy | slots | 8",
            }
        ),
        help_text=(
            "One per line: name | expression | unit | limit (unit and limit optional). Scrape: a "
            'metric name with optional {label="value"} matchers, rate(...), one of / - + and * number. '
            "Prometheus: PromQL."
        ),
    )
    preset = forms.ChoiceField(
        choices=series_mod.PRESET_CHOICES,
        required=False,
        help_text=(
            "Adds the preset's series to those above (node_exporter: CPU, memory, load, network, open files)."
        ),
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
        model = MetricSource
        fields = [
            "name",
            "kind",
            "url",
            "auth_type",
            "auth_username",
            "auth_password",
            "auth_token",
            "verify_tls",
        ]
        labels = {"url": "URL", "verify_tls": "Verify TLS certificates"}
        widgets = {"url": forms.URLInput(attrs={"placeholder": "http://app.internal:9100/metrics"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["series_text"] = series_mod.series_text(self.instance.series or [])

    def clean_url(self) -> str:
        url = (self.cleaned_data.get("url") or "").strip()
        try:
            if url:  # the same address checks and allowlist as a target's base URL
                target_save_check(base_url=url)
        except Refused as exc:
            raise forms.ValidationError(str(exc)) from None
        return url

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        for name in ("auth_password", "auth_token"):
            if not data.get(name) and self.instance.pk:
                data[name] = getattr(self.instance, name)
        auth = data.get("auth_type")
        if auth == Target.Auth.BASIC and not data.get("auth_username"):
            self.add_error("auth_username", "Basic authentication needs a username.")
        if auth == Target.Auth.BEARER and not data.get("auth_token"):
            self.add_error("auth_token", "Bearer authentication needs a token.")
        kind = data.get("kind") or MetricSource.Kind.SCRAPE
        try:
            parsed = series_mod.parse_series_text(data.get("series_text") or "", kind=kind)
            if data.get("preset"):
                have = {s.name for s in parsed}
                parsed += [s for s in series_mod.preset_series(data["preset"], kind) if s.name not in have]
            parsed = series_mod.series_from_dicts([s.to_dict() for s in parsed], kind=kind)
        except ValueError as exc:
            self.add_error("series_text", str(exc))
            return data
        if not parsed:
            self.add_error("series_text", "Give at least one series, or pick a preset.")
        data["series"] = [s.to_dict() for s in parsed]
        return data
