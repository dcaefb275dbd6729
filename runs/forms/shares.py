"""The share link form."""

from __future__ import annotations

from django import forms


class ShareCreateForm(forms.Form):
    label = forms.CharField(required=False, max_length=200, strip=True)
    expires_in_days = forms.IntegerField(
        required=False, min_value=1, max_value=365, label="Expires after (days)", help_text="Empty: never."
    )
