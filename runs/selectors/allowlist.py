"""The administrator's allowlist as it stands: the ``SCALETEST_ALLOWLIST`` setting's entries and
the ``AllowedNetwork`` rows, parsed into rules (``runs.core.safety.allowlist``)."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from runs.core.safety.allowlist import AllowRule


def parse_rules(entries: Iterable[str], *, source: str) -> list[AllowRule]:
    rules = []
    for entry in entries:
        try:
            rules.append(AllowRule.parse(entry))
        except ValueError as exc:
            raise ImproperlyConfigured(f"{source}: {exc}") from None
    return rules


def allowlist_rules() -> list[AllowRule]:
    """The setting's entries and the administrator's ``AllowedNetwork`` rows."""
    from runs.models import AllowedNetwork

    rules = parse_rules(settings.SCALETEST_ALLOWLIST, source="SCALETEST_ALLOWLIST")
    for value in AllowedNetwork.objects.values_list("value", flat=True):
        try:
            rules.append(AllowRule.parse(value))
        except ValueError:
            continue  # saved before validation existed; the admin shows it, it allows nothing
    return rules
