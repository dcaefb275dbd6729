"""The API token form."""

from __future__ import annotations

from django import forms


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True, help_text="What uses it, e.g. “nightly CI”.")
    expires_in_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=3650,
        label="Expires after (days)",
        help_text="Leave empty for a token that does not expire.",
    )
