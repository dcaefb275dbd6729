"""Live control of a running run: a new level (users, or arrival rate) and its effective plan.

Pure module (no Django, no Locust). A run of a constant profile (``constant``: users,
``arrival_constant``: iterations per second) may be given a new level while it runs; the child
applies it and acknowledges the time it did (``runs.core.engine.protocol``), and that time,
``at_s`` seconds after the start, is where the new level begins. :func:`effective_plan` turns the
planned profile and the applied changes into the plan the run actually followed: one stage per
level, cut where the run was stopped early. The child drives its load from the same function, and
the capacity analysis takes its steps from it (one step per level).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from runs.core import profiles

# Profile kinds whose level may change during the run: one level held for the whole run.
CONTROLLABLE_KINDS = ("constant", "arrival_constant")


class ControlError(ValueError):
    """A change that cannot be made; the message is meant for the user."""


@dataclass(frozen=True)
class Change:
    """A new level from ``at_s`` seconds after the start on: users (closed model) or
    iterations per second (open model)."""

    at_s: float
    value: float


def is_controllable(kind: str) -> bool:
    return kind in CONTROLLABLE_KINDS


def control_unit(kind: str) -> str:
    """What a change of ``kind`` sets: "users" or "rate"."""
    return "rate" if profiles.is_open_model(kind) else "users"


def check_value(kind: str, raw: object, *, max_users: int) -> float:
    """The new level of a ``kind`` run, checked: whole users from 1 to ``max_users``, or an
    arrival rate above 0 and up to ``profiles.MAX_RATE``. Raises :class:`ControlError`."""
    if not is_controllable(kind):
        label = profiles.KIND_LABELS.get(kind, kind)
        raise ControlError(
            f"Only runs of a constant profile (users or arrival rate) can change their load; this run's "
            f"profile is “{label}”."
        )
    if raw is None or isinstance(raw, bool) or (isinstance(raw, str) and not raw.strip()):
        raise ControlError(
            "Give the new " + ("arrival rate." if profiles.is_open_model(kind) else "user count.")
        )
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ControlError(f"“{str(raw)[:50]}” is not a number.") from None
    if not math.isfinite(value):
        raise ControlError("The new level must be a finite number.")
    if profiles.is_open_model(kind):
        if value <= 0:
            raise ControlError(
                "The arrival rate must be above 0 iterations/s; to end the run, stop it early."
            )
        if value > profiles.MAX_RATE:
            raise ControlError(
                f"The arrival rate must be at most {profiles.MAX_RATE:g} iterations/s "
                "(what one load generator can start)."
            )
        return value
    if value != int(value):
        raise ControlError("The user count must be a whole number.")
    if value < 1:
        raise ControlError("At least 1 user must run; to end the run, stop it early.")
    if value > max_users:
        raise ControlError(f"{int(value)} users is above this team's cap of {max_users} users.")
    return float(int(value))


def is_controllable_plan(plan: profiles.Plan) -> bool:
    """A plan of one level (what a constant profile builds), which :func:`effective_plan` takes."""
    return len(plan.stages) == 1 and (not plan.is_open or len(plan.rates) == 1)


def plan_level(plan: profiles.Plan) -> float:
    """The level a constant plan holds: its users, or its arrival rate."""
    if plan.is_open:
        return float(plan.rates[0].from_rate)
    return float(plan.stages[0].users)


def effective_plan(
    plan: profiles.Plan, changes: Sequence[Change], *, stopped_at: float | None = None
) -> profiles.Plan:
    """``plan`` (a constant one) as the run followed it: a stage per level, the first at the
    planned level from 0, each change's from its ``at_s``; cut at ``stopped_at`` when the run was
    stopped early. Changes at or after the end are left out; the order of ``changes`` is kept
    for changes at the same time (the later one wins)."""
    if not is_controllable_plan(plan):
        raise ControlError("Only a plan of one level can change its level.")
    end = plan.duration if stopped_at is None else max(0.0, min(plan.duration, stopped_at))
    cuts: list[tuple[float, float]] = [(0.0, plan_level(plan))]
    for change in sorted(changes, key=lambda c: c.at_s):
        at = max(0.0, change.at_s)
        if at >= end:
            continue
        if at - cuts[-1][0] < 1e-9:
            cuts[-1] = (cuts[-1][0], change.value)
        else:
            cuts.append((at, change.value))
    if end <= 0:
        return profiles.Plan(plan.start_users, (), (), plan.max_in_flight)
    bounds = [at for at, _ in cuts] + [end]
    spans = [(bounds[i + 1] - bounds[i], value) for i, (_, value) in enumerate(cuts)]
    if plan.is_open:
        cap = int(plan.max_in_flight or 0)
        return profiles.Plan(
            plan.start_users,
            tuple(profiles.Stage(d, cap, None) for d, _ in spans),
            tuple(profiles.RateStage(d, v, v) for d, v in spans),
            plan.max_in_flight,
        )
    spawn_rate = plan.stages[0].spawn_rate
    return profiles.Plan(
        plan.start_users, tuple(profiles.Stage(d, int(v), spawn_rate) for d, v in spans), plan.rates, None
    )
