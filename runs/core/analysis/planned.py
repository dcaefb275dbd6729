"""Load steps from the plan: the run's snapshot says which levels were planned and when.

Pure module: no Django, no I/O. ``planned_levels`` turns a load plan (``runs.core.profiles.Plan``,
read by attribute only) into the stretches of plan time held at one level: the part of each
stage after its ramp, joined with neighbours at the same level. ``plan_steps`` cuts a run's
per-second points at those stretches; the observed user counts only confirm them (a step
starts at the first second its planned users were all running). ``aggregate_plan_steps``
summarises each step with a warm-up trim that scales with the step and marks short or
unconfirmed steps as low confidence, with the reason in plain words.

Any planned step of at least ``MIN_STEP_SECONDS`` is analysed. Steps whose steady part (after
the warm-up trim) is shorter than ``TRUSTED_STEADY_SECONDS`` are low confidence:
``TRUSTED_STEP_SECONDS`` is the step length that leaves enough.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from runs.core.analysis.steps import IntervalPoint, Step, StepAggregate, aggregate_step
from runs.core.analysis.validity import ValidityWarning

__all__ = [
    "MIN_STEP_SECONDS",
    "TRUSTED_STEP_SECONDS",
    "PlannedLevel",
    "PlannedStep",
    "aggregate_plan_steps",
    "plan_steps",
    "planned_levels",
    "skipped_warnings",
    "step_length_advice",
    "warmup_seconds",
]

MIN_STEP_SECONDS = 3
MAX_WARMUP_SECONDS = 5
WARMUP_FRACTION = 0.2
TRUSTED_STEADY_SECONDS = 12
TRUSTED_STEP_SECONDS = 15  # 15 s less its 3 s warm-up leaves 12 s of steady load
CONFIRMED_FRACTION = 0.8  # of a step's seconds must show its planned users


@dataclass(frozen=True)
class PlannedLevel:
    """Plan time ``start_s``–``end_s`` (seconds from the start) held at ``users``.

    Open model: ``users`` is the in-flight cap and ``rate`` the planned iterations per second.
    """

    users: int
    start_s: float
    end_s: float
    rate: float | None = None

    @property
    def seconds(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class PlannedStep:
    """A planned level cut from a run: its points from the first confirmed second on."""

    level: PlannedLevel
    step: Step
    planned_s: int  # whole seconds the plan held the level
    waited_s: int  # seconds of the window before the planned users were all running
    note: str  # why the step is low confidence ("" when it is not), before the warm-up check


def planned_levels(plan: Any) -> list[PlannedLevel]:
    """The levels a plan holds, in time order (a level visited twice appears twice).

    Closed model: a stage moves from the previous level to ``stage.users`` at its spawn rate
    (instantly without one) and then holds: the hold is the level. Open model: every rate
    segment of constant, positive rate is a level. Zero-user levels are not load steps.
    """
    out: list[PlannedLevel] = []
    if getattr(plan, "rates", None):
        start = 0.0
        for seg in plan.rates:
            if seg.from_rate == seg.to_rate and seg.from_rate > 0:
                out.append(
                    PlannedLevel(
                        int(plan.max_in_flight or 0), start, start + seg.duration, float(seg.from_rate)
                    )
                )
            start += seg.duration
        return _joined(out)
    level = float(plan.start_users)
    start = 0.0
    for stage in plan.stages:
        end = start + stage.duration
        distance = abs(stage.users - level)
        ramp = 0.0 if stage.spawn_rate is None or distance == 0 else distance / stage.spawn_rate
        if ramp < stage.duration:
            level = float(stage.users)
            if stage.users > 0:
                out.append(PlannedLevel(int(stage.users), start + ramp, end))
        else:  # a slow spawn rate does not reach the stage's users: no hold
            step = stage.spawn_rate * stage.duration
            level = (
                min(float(stage.users), level + step)
                if stage.users >= level
                else max(float(stage.users), level - step)
            )
        start = end
    return _joined(out)


def search_levels(
    decisions: Sequence[Mapping[str, Any]], *, open_model: bool, max_in_flight: int = 0
) -> list[PlannedLevel]:
    """A capacity search's steps as levels, from its stored decisions (``runs.core.capacity_search``):
    each judged window (``start_t``..``end_t``, after the search's own settling) at its load.
    Closed model: the load is users; open model: the rate, at the in-flight cap."""
    out = []
    for d in decisions:
        try:
            load, start, end = float(d["load"]), int(d["start_t"]), int(d["end_t"])
        except (KeyError, TypeError, ValueError):
            continue
        if end < start or load <= 0:
            continue
        if open_model:
            out.append(PlannedLevel(int(max_in_flight), float(start), float(end + 1), load))
        else:
            out.append(PlannedLevel(int(load), float(start), float(end + 1)))
    return out


def _joined(levels: list[PlannedLevel]) -> list[PlannedLevel]:
    out: list[PlannedLevel] = []
    for lv in levels:
        prev = out[-1] if out else None
        if prev and prev.users == lv.users and prev.rate == lv.rate and abs(prev.end_s - lv.start_s) < 1e-9:
            out[-1] = replace(prev, end_s=lv.end_s)
        else:
            out.append(lv)
    return out


def plan_steps(
    points: Sequence[IntervalPoint],
    levels: Sequence[PlannedLevel],
    *,
    closed_model: bool = True,
    min_step_seconds: int = MIN_STEP_SECONDS,
) -> tuple[list[PlannedStep], list[str], int]:
    """Cut ``points`` at the planned levels. Also the plain-words notes on levels left out,
    and how many levels with data the observed users did not confirm: when that is most of
    them the run did not follow its snapshot's plan (the caller then infers the steps).

    A second ``t`` covers plan time [t, t + 1): a level from 16 s to 24 s is seconds 16–23.
    Closed model: the step starts at the first second whose observed users equal the planned
    users (Locust spawns within a second); a level whose users were never all running is
    left out, with a note. Open model: the observed in-flight count varies by design, so the
    step is every second of the window with data, and ``users`` becomes its median.
    """
    by_t = {p.t: p for p in points}
    steps: list[PlannedStep] = []
    notes: list[str] = []
    unconfirmed = 0
    for level in levels:
        first = math.ceil(level.start_s - 1e-9)
        last = math.floor(level.end_s + 1e-9) - 1
        planned = last - first + 1
        what = _level_words(level)
        if planned < min_step_seconds:
            notes.append(
                f"The {planned} s step at {what} was not analysed: steps shorter than "
                f"{min_step_seconds} s hold too little steady load."
            )
            continue
        window = [by_t[t] for t in range(first, last + 1) if t in by_t]
        if not window:
            continue  # the run ended before this level
        if closed_model:
            reached = next((i for i, p in enumerate(window) if p.users == level.users), None)
            matching = 0 if reached is None else sum(p.users == level.users for p in window[reached:])
            if reached is not None and matching < CONFIRMED_FRACTION * (len(window) - reached):
                unconfirmed += 1  # other user counts for most of the window: not this plan
                continue
            if reached is None:
                unconfirmed += 1
                most = max(p.users for p in window)
                notes.append(
                    f"The step at {what} was not analysed: at most {most} of its {level.users} planned "
                    "users were running (the generator could not start them all)."
                )
                continue
            kept = window[reached:]
            users = level.users
        else:
            kept = window
            users = int(round(sorted(p.users for p in window)[len(window) // 2]))
        waited = kept[0].t - first
        note = ""
        if kept[-1].t < last:
            note = f"the run ended {last - kept[-1].t} s before this step's planned end"
        if len(kept) < min_step_seconds:
            notes.append(
                f"The step at {what} was not analysed: only {len(kept)} s of it ran at the planned load."
            )
            continue
        steps.append(
            PlannedStep(
                level=level,
                step=Step(users=users, start_t=kept[0].t, end_t=kept[-1].t, points=tuple(kept)),
                planned_s=planned,
                waited_s=waited,
                note=note,
            )
        )
    return steps, notes, unconfirmed


def _level_words(level: PlannedLevel) -> str:
    if level.rate is not None:
        return f"{level.rate:g} iterations/s"
    return f"{level.users} user" + ("" if level.users == 1 else "s")


def warmup_seconds(seconds: int) -> int:
    """The warm-up trimmed from a step of ``seconds``: a fifth of it, 1 to 5 s, never all of it."""
    trim = min(MAX_WARMUP_SECONDS, max(1, math.ceil(WARMUP_FRACTION * seconds)))
    return max(0, min(trim, seconds - 1))


def aggregate_plan_steps(
    planned: Sequence[PlannedStep],
    *,
    confidence: float = 0.95,
    bootstrap_resamples: int = 1000,
    seed: int = 0,
) -> list[StepAggregate]:
    """Summarise each planned step after its warm-up trim, with its low-confidence note."""
    out = []
    for p in planned:
        agg = aggregate_step(
            p.step,
            warmup_seconds=warmup_seconds(p.step.seconds),
            confidence=confidence,
            bootstrap_resamples=bootstrap_resamples,
            seed=seed,
        )
        reasons = []
        if agg.duration_s < TRUSTED_STEADY_SECONDS:
            reasons.append(
                f"only {agg.duration_s} s of steady load ({p.planned_s} s step less "
                f"{agg.trimmed_s + p.waited_s} s of start-up and warm-up)"
            )
        if p.note:
            reasons.append(p.note)
        out.append(
            replace(
                agg,
                planned_s=p.planned_s,
                planned_rate=p.level.rate,
                note="; ".join(reasons),
            )
        )
    return out


def step_length_advice(step_seconds: Sequence[float]) -> str:
    """What the profile form says, before saving, about planned steps too short to trust.

    ``step_seconds`` are the lengths of the planned levels (``PlannedLevel.seconds``). Empty
    when every step is long enough."""
    if not step_seconds:
        return ""
    shortest = min(step_seconds)
    if shortest >= TRUSTED_STEP_SECONDS:
        return ""
    short = sum(1 for s in step_seconds if s < TRUSTED_STEP_SECONDS)
    if short < len(step_seconds):
        lead, last = f"{short} of {len(step_seconds)} load steps", "last" if short > 1 else "lasts"
    else:
        lead, last = ("The load steps", "last") if len(step_seconds) > 1 else ("The load step", "lasts")
    if shortest < MIN_STEP_SECONDS:
        return (
            f"{lead} {last} under {MIN_STEP_SECONDS} s: steps that short are not analysed at all. "
            f"Make each step at least {TRUSTED_STEP_SECONDS} s for a trustworthy knee and comparison."
        )
    steady = max(1, int(shortest) - warmup_seconds(int(shortest)))
    return (
        f"{lead} {last} {shortest:g} s, which leaves about {steady} s of steady load each after "
        f"warm-up: the knee and comparisons will be marked low confidence. Make each step at "
        f"least {TRUSTED_STEP_SECONDS} s (30 s or more to tell small regressions apart)."
    )


def skipped_warnings(steps: Sequence[StepAggregate], notes: Sequence[str]) -> list[ValidityWarning]:
    """Warnings, in plain words, for planned steps left out and for low-confidence steps
    (steps with the same reason share one warning)."""
    out = [ValidityWarning(code="step_not_analysed", message=note) for note in notes]
    by_note: dict[str, list[int]] = {}
    for s in steps:
        if s.note:
            by_note.setdefault(s.note, []).append(s.users)
    for note, users in by_note.items():
        levels = ", ".join(str(u) for u in users)
        which = f"The step at {levels} users is" if len(users) == 1 else f"The steps at {levels} users are"
        out.append(
            ValidityWarning(
                code="low_confidence",
                message=(
                    f"{which} low confidence: {note}. Steps of at least {TRUSTED_STEP_SECONDS} s give a "
                    "trustworthy knee and comparison."
                ),
                detail={"users": users},
            )
        )
    return out
