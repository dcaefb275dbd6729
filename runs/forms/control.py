"""The live control form of the run page: the new level of a running constant run."""

from __future__ import annotations

from django import forms


class RunControlForm(forms.Form):
    # A number, checked against the run's profile and its team's caps by the service
    # (``runs.services.control``), which words the error.
    value = forms.CharField(max_length=30, strip=True, label="New level")
