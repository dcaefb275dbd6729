"""Team forms: create a team, add and change members, switch the current team."""

from __future__ import annotations

from django import forms

from runs.models import Membership


class TeamForm(forms.Form):
    name = forms.CharField(max_length=200, strip=True)


class MemberAddForm(forms.Form):
    username = forms.CharField(max_length=150, strip=True)
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.VIEWER)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


class TeamSwitchForm(forms.Form):
    team = forms.IntegerField(min_value=1)
    next = forms.CharField(required=False, max_length=2000)
