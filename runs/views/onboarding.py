"""The way to a first test: which of target → scenario → profile → plan a team has, and the
next step to offer after each save.

``setup_progress`` is the dashboard's checklist; ``saved_message`` is the success message of a
save with a link to the next thing to make (the message is built with ``format_html``, so the
names users typed stay escaped).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from runs.models import LoadProfile, Run, Scenario, Target, Team, TestPlan

# (key, label, what it is, URL name of the page that creates one)
STEPS = (
    ("target", "Target", "the server under test: a base URL, headers, authentication", "runs-target-create"),
    ("scenario", "Scenario", "the requests each user sends", "runs-scenario-create"),
    ("profile", "Load profile", "how many users, for how long", "runs-profile-create"),
    (
        "plan",
        "Test plan",
        "a target, a scenario and a profile together, with pass/fail thresholds",
        "runs-plan-create",
    ),
)


@dataclass(frozen=True)
class SetupStep:
    key: str
    label: str
    about: str
    url: str
    count: int

    @property
    def done(self) -> bool:
        return self.count > 0


@dataclass(frozen=True)
class SetupProgress:
    steps: tuple[SetupStep, ...]
    runs: int

    @property
    def done(self) -> int:
        return sum(1 for s in self.steps if s.done)

    @property
    def complete(self) -> bool:
        return self.done == len(self.steps)

    @property
    def next(self) -> SetupStep | None:
        return next((s for s in self.steps if not s.done), None)


def setup_progress(*, team: Team) -> SetupProgress:
    """How far ``team`` is on the way to its first run (five counting queries)."""
    counts = {
        "target": Target.objects.filter(team=team).count(),
        "scenario": Scenario.objects.filter(team=team).count(),
        "profile": LoadProfile.objects.filter(team=team).count(),
        "plan": TestPlan.objects.filter(team=team).count(),
    }
    steps = tuple(
        SetupStep(key=key, label=label, about=about, url=reverse(url_name), count=counts[key])
        for key, label, about, url_name in STEPS
    )
    return SetupProgress(steps=steps, runs=Run.objects.filter(team=team).count())


def saved_message(*, team: Team, text: str, saved: str) -> SafeString:
    """``text`` (plain, escaped here) and the next step after saving a ``saved`` part: the
    first part the team still lacks, else the part that follows ``saved``."""
    progress = setup_progress(team=team)
    missing = progress.next
    if missing is not None:
        return format_html(
            '{} Next step: <a href="{}">create a {}</a> ({}).',
            text,
            missing.url,
            missing.label.lower(),
            missing.about,
        )
    if saved == "plan":
        return format_html("{} Next step: start a run with the “Start run” button.", text)
    return format_html(
        '{} Next step: <a href="{}">create a test plan</a> that uses it, or start one from '
        'the <a href="{}">test plans</a>.',
        text,
        reverse("runs-plan-create"),
        reverse("runs-plan-list"),
    )
