"""The target form: a base URL the safety checks accept, default headers, timeouts."""

from __future__ import annotations

from typing import Any

from django import forms

from runs.core.safety import Refused
from runs.forms.common import JSON_ATTRS, JSONObjectField, string_map
from runs.models import Target
from runs.services.catalog import TARGET_FIELDS
from runs.services.safety import target_save_check


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
        fields = list(TARGET_FIELDS)
        labels = {
            "base_url": "Base URL",
            "verify_tls": "Verify TLS certificates",
            "timeout_seconds": "Timeout (s)",
        }
        widgets = {"base_url": forms.URLInput(attrs={"placeholder": "https://staging.example.com"})}

    def clean_base_url(self) -> str:
        url = (self.cleaned_data.get("base_url") or "").strip().rstrip("/")
        try:
            if url:  # loopback, private and metadata addresses only when allowlisted (runs.core.safety)
                target_save_check(base_url=url)
        except Refused as exc:
            raise forms.ValidationError(str(exc)) from None
        return url

    def clean_headers(self) -> dict[str, Any]:
        return string_map(self.cleaned_data.get("headers"), "Headers")

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
