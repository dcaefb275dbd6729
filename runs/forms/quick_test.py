"""The dashboard's quick-test form (``runs.services.quick_test`` does the work).

Its own module so that the split of ``runs/forms.py`` into a package can take it in as
``runs/forms/quick_test.py`` unchanged.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from runs.core.safety import Refused
from runs.models import HTTP_URL, METHODS
from runs.services import quick_test
from runs.services.safety import target_save_check


class QuickTestForm(forms.Form):
    url = forms.CharField(
        label="URL",
        max_length=1500,
        widget=forms.URLInput(
            attrs={"placeholder": "https://staging.example.com/api/items", "autofocus": True}
        ),
        help_text="The page or API endpoint to load; its path and query string become the request.",
    )
    method = forms.ChoiceField(choices=[(m, m) for m in METHODS], initial="GET")
    users = forms.IntegerField(
        min_value=1, initial=10, widget=forms.NumberInput(attrs={"min": 1}), help_text="Concurrent users."
    )
    duration = forms.IntegerField(
        label="Duration (s)", min_value=1, initial=60, widget=forms.NumberInput(attrs={"min": 1})
    )
    shape = forms.ChoiceField(
        label="Load",
        choices=[(k, quick_test.SHAPE_LABELS[k]) for k in quick_test.SHAPES],
        initial="constant",
        widget=forms.RadioSelect,
    )
    steps = forms.IntegerField(
        label="Staircase steps",
        required=False,
        min_value=2,
        max_value=50,
        initial=5,
        widget=forms.NumberInput(attrs={"min": 2, "max": 50}),
        help_text="Staircase only: the users are added in this many equal steps.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["users"].widget.attrs["max"] = settings.SCALETEST_MAX_USERS
        self.fields["duration"].widget.attrs["max"] = settings.SCALETEST_MAX_RUN_SECONDS

    def clean_users(self) -> int:
        users = self.cleaned_data["users"]
        if users > settings.SCALETEST_MAX_USERS:
            raise forms.ValidationError(
                f"At most {settings.SCALETEST_MAX_USERS} users on this server (SCALETEST_MAX_USERS)."
            )
        return int(users)

    def clean_duration(self) -> int:
        seconds = self.cleaned_data["duration"]
        if seconds > settings.SCALETEST_MAX_RUN_SECONDS:
            raise forms.ValidationError(
                f"At most {settings.SCALETEST_MAX_RUN_SECONDS} s on this server (SCALETEST_MAX_RUN_SECONDS)."
            )
        return int(seconds)

    def clean_url(self) -> str:
        url = (self.cleaned_data.get("url") or "").strip()
        try:
            HTTP_URL(url)
        except forms.ValidationError:
            raise forms.ValidationError(
                "Enter a full http:// or https:// URL, e.g. https://staging.example.com/health."
            ) from None
        if any(c.isspace() for c in url):
            raise forms.ValidationError("The URL cannot contain spaces; encode them as %20.")
        if "${" in url:
            raise forms.ValidationError(
                "Variables (${…}) need a scenario with a data source; create one under Scenarios."
            )
        try:
            # Loopback, private and metadata addresses only when allowlisted (runs.core.safety).
            target_save_check(base_url=quick_test.url_split(url).base_url)
        except Refused as exc:
            raise forms.ValidationError(str(exc)) from None
        return url

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.errors:
            return data
        try:
            quick_test.profile_params(self.spec())
        except quick_test.QuickTestError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, str(exc))
        return data

    def spec(self) -> quick_test.QuickTest:
        data = self.cleaned_data
        return quick_test.QuickTest(
            url=data["url"],
            method=data["method"],
            users=data["users"],
            duration=data["duration"],
            shape=data["shape"],
            steps=data.get("steps") or 5,
        )
