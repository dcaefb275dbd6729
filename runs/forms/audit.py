"""The audit trail's filters (the team's audit page and the API)."""

from __future__ import annotations

from django import forms

from runs.models import AuditEntry


class AuditFilterForm(forms.Form):
    """``?action=member.role&actor=alice&days=7``."""

    action = forms.ChoiceField(choices=[("", "Any action"), *AuditEntry.Action.choices], required=False)
    actor = forms.CharField(max_length=150, required=False, label="User")
    days = forms.IntegerField(min_value=1, max_value=36500, required=False, label="Last days")
