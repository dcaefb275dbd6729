"""The form of a team's notification hook (webhook, Slack, Teams or e-mail).

The checks that matter (URL addresses, e-mail addresses, events) are in
``runs.services.notifications``; the view adds its ``NotifyError`` to the form.
"""

from __future__ import annotations

from django import forms

from runs.models import NotificationChannel


class ChannelForm(forms.Form):
    name = forms.CharField(max_length=200, strip=True, help_text="E.g. “#perf channel” or “on-call”.")
    kind = forms.ChoiceField(
        choices=NotificationChannel.Kind.choices, initial=NotificationChannel.Kind.WEBHOOK
    )
    url = forms.CharField(
        required=False,
        max_length=1000,
        strip=True,
        label="Webhook URL",
        help_text="Webhook, Slack and Teams: where the POST goes. Public addresses only, unless an "
        "administrator allowlisted the host. Redirects are not followed.",
        widget=forms.URLInput(attrs={"placeholder": "https://hooks.slack.com/services/…"}),
    )
    recipients = forms.CharField(
        required=False,
        label="E-mail recipients",
        help_text="E-mail: one address a line.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    events = forms.MultipleChoiceField(
        choices=NotificationChannel.Event.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[NotificationChannel.Event.FAILED, NotificationChannel.Event.THRESHOLD_FAILED],
        error_messages={"required": "Choose at least one event to be notified about."},
    )
    active = forms.BooleanField(required=False, initial=True, label="Active (send notifications)")

    @classmethod
    def for_channel(cls, channel: NotificationChannel) -> ChannelForm:
        return cls(
            initial={
                "name": channel.name,
                "kind": channel.kind,
                "url": channel.url,
                "recipients": channel.recipients,
                "events": list(channel.events),
                "active": channel.active,
            }
        )
