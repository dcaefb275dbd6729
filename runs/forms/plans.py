"""Test plan forms: the plan (target, scenario, profile, generators, thresholds) and its schedule."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings

from runs.core import profiles, thresholds
from runs.models import LoadProfile, Scenario, Target, Team, TestPlan
from runs.services.catalog import PLAN_FIELDS


class ThresholdsField(forms.CharField):
    """The line syntax as typed in the form, or (from the API) the stored list of objects;
    ``TestPlanForm.clean_thresholds`` parses either with ``thresholds.parse_thresholds``."""

    def to_python(self, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return list(value)
        return super().to_python(value)


class TestPlanForm(forms.ModelForm):
    __test__ = False

    thresholds = ThresholdsField(
        label="Pass/fail thresholds",
        required=False,
        widget=forms.Textarea(
            attrs={
                "rows": 4,
                "spellcheck": "false",
                "class": "mono",
                "placeholder": "p95 < 500\nerror_rate < 1%",
            }
        ),
        help_text=thresholds.SYNTAX_HELP,
    )
    # Optional in a POST (an older form, a script): left out means a single generator.
    generators = forms.IntegerField(
        required=False,
        initial=1,
        label="Load generators",
        widget=forms.NumberInput(attrs={"min": 1}),
        help_text="Locust worker processes that share the load (one CPU core each); "
        "1 runs a single process. Arrival-rate profiles use 1.",
    )

    class Meta:
        model = TestPlan
        fields = list(PLAN_FIELDS)
        labels = {"profile": "Load profile"}
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the team's own parts can be chosen; another team's id is "not one of the choices".
        cast(forms.ModelChoiceField, self.fields["target"]).queryset = Target.objects.filter(team=team)
        cast(forms.ModelChoiceField, self.fields["scenario"]).queryset = Scenario.objects.filter(team=team)
        cast(forms.ModelChoiceField, self.fields["profile"]).queryset = LoadProfile.objects.filter(team=team)
        stored = self.instance.thresholds if self.instance.pk else []
        try:
            self.initial["thresholds"] = thresholds.thresholds_text(thresholds.parse_thresholds(stored))
        except ValueError:
            self.initial["thresholds"] = ""

    def clean_thresholds(self) -> list[dict[str, Any]]:
        try:
            items = thresholds.parse_thresholds(self.cleaned_data.get("thresholds") or "")
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return [item.to_dict() for item in items]

    def clean_generators(self) -> int:
        value = self.cleaned_data["generators"]
        if value is None:
            return 1
        limit = settings.SCALETEST_MAX_GENERATORS
        if not 1 <= value <= limit:
            raise forms.ValidationError(f"Enter a number of generators from 1 to {limit}.")
        return value

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        profile = data.get("profile")
        if profile is not None and (data.get("generators") or 1) > 1 and profiles.is_open_model(profile.kind):
            self.add_error(
                "generators", "Arrival-rate profiles run on one generator; set 1 or use a users profile."
            )
        scenario, items = data.get("scenario"), data.get("thresholds")
        if scenario is not None and items:
            # Endpoints are named in the results by method and step name (or path).
            known = {(step.method, step.display_name) for step in scenario.steps.all()}
            for item in items:
                key = (item["method"], item["name"])
                if item["method"] is not None and key not in known:
                    names = ", ".join(sorted(f"{m} {n}" for m, n in known)) or "none"
                    self.add_error(
                        "thresholds",
                        f"No step of the scenario “{scenario}” is named “{key[0]} {key[1]}”; "
                        f"its endpoints are: {names}.",
                    )
                    break
        return data


class PlanScheduleForm(forms.Form):
    schedule = forms.CharField(
        required=False,
        max_length=100,
        strip=True,
        label="Cron schedule",
        help_text="minute hour day-of-month month day-of-week, e.g. “0 3 * * 1-5”; empty: no schedule.",
    )

    def clean_schedule(self) -> str:
        from runs.core.cron import CronError, cron_parse

        value = self.cleaned_data.get("schedule") or ""
        if not value:
            return ""
        try:
            return cron_parse(value).expression
        except CronError as exc:
            raise forms.ValidationError(str(exc)) from None
