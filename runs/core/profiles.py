"""Load-profile math: validation, stages and the planned users-over-time curve.

Pure module (no Django, no Locust). The same functions draw the preview chart on the profile
form, drive the Locust ``LoadTestShape`` in the child process and label steps in the analysis,
so what the user previews is what runs.

Every closed-model kind becomes a start level plus a list of :class:`Stage`. During a stage
the planned user count moves linearly from the previous level toward ``stage.users`` at
``stage.spawn_rate`` users per second (instantly when the rate is ``None``) and then holds.

The open-model (arrival-rate) kinds plan iterations started per second instead, whatever the
response times: ``Plan.rates`` holds linear :class:`RateStage` segments and
``Plan.max_in_flight`` caps the iterations running at once. Their ``stages`` mirror the rate
segments at ``max_in_flight`` users, so durations, stage indexes and ``peak_users`` (the most
concurrent work the run can have) mean the same for both models. The child starts iteration
``n`` (0, 1, 2, ...) at the time ``t`` where the integral of :func:`rate_at` from 0 reaches ``n``
(:func:`start_offsets`), so a ramp starts exactly the integral, not a per-second rounding.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from runs.core import thresholds

KINDS = (
    "constant",
    "ramp",
    "staircase",
    "spike",
    "stages",
    "arrival_constant",
    "arrival_ramp",
    "search_users",
    "search_rate",
)
OPEN_MODEL_KINDS = ("arrival_constant", "arrival_ramp", "search_rate")
# Capacity searches: the child chooses each step's load from what it measures
# (runs.core.capacity_search); their plan is the envelope of the growth phase.
SEARCH_KINDS = ("search_users", "search_rate")
KIND_LABELS = {
    "constant": "Constant users",
    "ramp": "Ramp",
    "staircase": "Staircase",
    "spike": "Spike",
    "stages": "Custom stages",
    "arrival_constant": "Constant arrival rate",
    "arrival_ramp": "Ramping arrival rate",
    "search_users": "Find capacity (users)",
    "search_rate": "Find capacity (arrival rate)",
}
MAX_STAGES = 200
DEFAULT_MAX_USERS = 5000
DEFAULT_MAX_SECONDS = 3 * 3600
# One child process (one core) cannot start more iterations than this per second.
MAX_RATE = 10_000.0
RATE_UNIT = "iterations/s"
USERS_UNIT = "users"


def is_search(kind: str) -> bool:
    """Capacity-search kinds: the load of each step is decided while the run goes."""
    return kind in SEARCH_KINDS


def is_open_model(kind: str) -> bool:
    """Arrival-rate kinds: load is iterations started per second, not a number of users."""
    return kind in OPEN_MODEL_KINDS


def preview_unit(kind: str) -> str:
    """What the preview curve of ``kind`` counts (the y axis of its chart)."""
    return RATE_UNIT if is_open_model(kind) else USERS_UNIT


class ProfileError(ValueError):
    """Invalid profile parameters. ``errors`` maps a field name to its message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


@dataclass(frozen=True)
class Stage:
    duration: float
    users: int
    spawn_rate: float | None = None  # users per second; None = instant


@dataclass(frozen=True)
class RateStage:
    """Open model: the arrival rate moves linearly from ``from_rate`` to ``to_rate``
    (iterations per second) over ``duration`` seconds."""

    duration: float
    from_rate: float
    to_rate: float

    @property
    def iterations(self) -> float:
        return (self.from_rate + self.to_rate) / 2.0 * self.duration


@dataclass(frozen=True)
class Plan:
    start_users: int
    stages: tuple[Stage, ...]
    rates: tuple[RateStage, ...] = ()  # open model only
    max_in_flight: int | None = None  # open model only

    @property
    def is_open(self) -> bool:
        return bool(self.rates)

    @property
    def duration(self) -> float:
        return float(sum(s.duration for s in self.stages))

    @property
    def peak_users(self) -> int:
        return max([self.start_users, *(s.users for s in self.stages)])


OBJECTIVE_LABEL = "SLO (one threshold per line, e.g. p95 < 300 ms; empty = until throughput stops growing)"

# Field specs per kind: name -> (label, kind of number ("int", "float") or "text", required, default)
FIELDS: dict[str, list[tuple[str, str, str, bool, Any]]] = {
    "constant": [
        ("users", "Users", "int", True, None),
        ("duration", "Duration (s)", "int", True, None),
        ("spawn_rate", "Spawn rate (users/s, empty = instant)", "float", False, None),
    ],
    "ramp": [
        ("from_users", "From users", "int", True, 0),
        ("to_users", "To users", "int", True, None),
        ("duration", "Ramp duration (s)", "int", True, None),
        ("hold", "Hold at the end (s)", "int", False, 0),
    ],
    "staircase": [
        ("start_users", "Start users", "int", True, None),
        ("step_users", "Users added per step", "int", True, None),
        ("step_duration", "Step duration (s)", "int", True, None),
        ("steps", "Number of steps", "int", True, None),
        ("spawn_rate", "Spawn rate (users/s, empty = instant)", "float", False, None),
    ],
    "spike": [
        ("base_users", "Base users", "int", True, None),
        ("peak_users", "Peak users", "int", True, None),
        ("spike_at", "Spike starts at (s)", "int", True, None),
        ("spike_duration", "Spike lasts (s)", "int", True, None),
        ("duration", "Total duration (s)", "int", True, None),
        ("spawn_rate", "Spawn rate (users/s, empty = instant)", "float", False, None),
    ],
    "stages": [],  # a list under "stages": [{"duration", "users", "spawn_rate"}]
    "arrival_constant": [
        ("rate", "Arrival rate (iterations/s)", "float", True, None),
        ("duration", "Duration (s)", "int", True, None),
        ("max_in_flight", "Max iterations in flight", "int", True, None),
    ],
    "arrival_ramp": [
        ("from_rate", "From rate (iterations/s)", "float", True, 0),
        ("to_rate", "To rate (iterations/s)", "float", True, None),
        ("duration", "Ramp duration (s)", "int", True, None),
        ("hold", "Hold at the end (s)", "int", False, 0),
        ("max_in_flight", "Max iterations in flight", "int", True, None),
    ],
    "search_users": [
        ("objective", OBJECTIVE_LABEL, "text", False, ""),
        ("start_users", "Start users", "int", True, None),
        ("ceiling_users", "Ceiling (most users)", "int", True, None),
        ("budget", "Time budget (s)", "int", True, None),
        ("min_step", "Shortest step (s)", "int", False, 5),
        ("max_step", "Longest step (s)", "int", False, 30),
        ("growth", "Growth factor while passing", "float", False, 2.0),
    ],
    "search_rate": [
        ("objective", OBJECTIVE_LABEL, "text", False, ""),
        ("start_rate", "Start rate (iterations/s)", "float", True, None),
        ("ceiling_rate", "Ceiling (highest iterations/s)", "float", True, None),
        ("max_in_flight", "Max iterations in flight", "int", True, None),
        ("budget", "Time budget (s)", "int", True, None),
        ("min_step", "Shortest step (s)", "int", False, 5),
        ("max_step", "Longest step (s)", "int", False, 30),
        ("growth", "Growth factor while passing", "float", False, 2.0),
    ],
}
MAX_GROWTH = 10.0


def _field(raw: Any, kind: str) -> float | int | str:
    if kind == "text":
        if not isinstance(raw, str):
            raise ValueError("must be text")
        return raw.strip()
    return _number(raw, kind)


def _number(raw: Any, kind: str) -> float | int:
    if isinstance(raw, bool):
        raise ValueError("must be a number")
    if isinstance(raw, str):
        raw = raw.strip()
        if raw == "":
            raise ValueError("is required")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError("must be a number") from None
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    if kind == "int":
        if value != int(value):
            raise ValueError("must be a whole number")
        return int(value)
    return value


def validate_profile(
    kind: str,
    params: Mapping[str, Any],
    *,
    max_users: int = DEFAULT_MAX_USERS,
    max_seconds: int = DEFAULT_MAX_SECONDS,
) -> dict[str, Any]:
    """Check and normalise a profile's parameters. Raises :class:`ProfileError`."""
    if kind not in KINDS:
        raise ProfileError({"kind": f"Unknown profile kind {kind!r}; choose one of {', '.join(KINDS)}."})
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    if kind == "stages":
        out["stages"] = _validate_stages(params.get("stages"), errors, max_users)
    else:
        for name, label, num_kind, required, default in FIELDS[kind]:
            raw = params.get(name)
            if raw is None or (isinstance(raw, str) and raw.strip() == ""):
                if required and default is None:
                    errors[name] = f"{label} is required."
                else:
                    out[name] = default
                continue
            try:
                out[name] = _field(raw, num_kind)
            except ValueError as exc:
                errors[name] = f"{label} {exc}."
        if not errors:
            _check_ranges(kind, out, errors, max_users)
    if not errors:
        duration = build_plan(kind, out).duration
        if duration <= 0:
            errors["duration"] = "The profile must last at least one second."
        elif duration > max_seconds:
            errors["duration"] = f"The profile lasts {duration:.0f} s; the maximum is {max_seconds} s."
    if errors:
        raise ProfileError(errors)
    return out


def _check_ranges(kind: str, v: dict[str, Any], errors: dict[str, str], max_users: int) -> None:
    def users(name: str, minimum: int = 0) -> None:
        if v[name] < minimum:
            errors[name] = f"Must be at least {minimum}."
        elif v[name] > max_users:
            errors[name] = f"Must be at most {max_users} users."

    def positive(name: str) -> None:
        if v.get(name) is not None and v[name] <= 0:
            errors[name] = "Must be greater than zero."

    def rate(name: str, *, zero_ok: bool = False) -> None:
        if v[name] < 0 or (v[name] == 0 and not zero_ok):
            errors[name] = "Must be at least 0 iterations/s." if zero_ok else "Must be greater than zero."
        elif v[name] > MAX_RATE:
            errors[name] = f"Must be at most {MAX_RATE:g} iterations/s (what one load generator can start)."

    def in_flight() -> None:
        if v["max_in_flight"] < 1:
            errors["max_in_flight"] = "At least 1 iteration must be allowed in flight."
        elif v["max_in_flight"] > max_users:
            errors["max_in_flight"] = f"Must be at most {max_users} (the users limit of this server)."

    if kind in SEARCH_KINDS:
        _check_search(kind, v, errors, max_users, users, positive, rate, in_flight)
    elif kind == "arrival_constant":
        rate("rate")
        positive("duration")
        in_flight()
    elif kind == "arrival_ramp":
        rate("from_rate", zero_ok=True)
        rate("to_rate", zero_ok=True)
        positive("duration")
        in_flight()
        if v.get("hold") is not None and v["hold"] < 0:
            errors["hold"] = "Must not be negative."
        if not errors and v["from_rate"] == v["to_rate"]:
            errors["to_rate"] = "A ramp must change the rate; use a constant arrival rate."
    elif kind == "constant":
        users("users", 1)
        positive("duration")
        positive("spawn_rate")
    elif kind == "ramp":
        users("from_users")
        users("to_users")
        positive("duration")
        if v.get("hold") is not None and v["hold"] < 0:
            errors["hold"] = "Must not be negative."
        if not errors and v["from_users"] == v["to_users"]:
            errors["to_users"] = "A ramp must change the user count; use a constant profile."
    elif kind == "staircase":
        users("start_users")
        users("step_users", 1)
        positive("step_duration")
        positive("steps")
        positive("spawn_rate")
        if not errors and v["steps"] > MAX_STAGES:
            errors["steps"] = f"At most {MAX_STAGES} steps."
        if not errors and v["start_users"] + v["step_users"] * (v["steps"] - 1) > max_users:
            errors["steps"] = f"The last step would exceed {max_users} users."
    elif kind == "spike":
        users("base_users")
        users("peak_users", 1)
        positive("spike_duration")
        positive("duration")
        positive("spawn_rate")
        if v["spike_at"] < 0:
            errors["spike_at"] = "Must not be negative."
        if not errors and v["peak_users"] <= v["base_users"]:
            errors["peak_users"] = "The peak must be above the base."
        if not errors and v["spike_at"] + v["spike_duration"] > v["duration"]:
            errors["spike_duration"] = "The spike must end before the total duration."


def _check_search(
    kind: str,
    v: dict[str, Any],
    errors: dict[str, str],
    max_users: int,
    users: Any,
    positive: Any,
    rate: Any,
    in_flight: Any,
) -> None:
    try:
        thresholds.parse_thresholds(v.get("objective") or "")
    except ValueError as exc:
        errors["objective"] = str(exc)
    if kind == "search_users":
        users("start_users", 1)
        users("ceiling_users", 1)
        start, ceiling = "start_users", "ceiling_users"
    else:
        rate("start_rate")
        rate("ceiling_rate")
        in_flight()
        start, ceiling = "start_rate", "ceiling_rate"
    if start not in errors and ceiling not in errors and v[ceiling] < v[start]:
        errors[ceiling] = "The ceiling must be at least the start load."
    positive("budget")
    positive("min_step")
    positive("max_step")
    if "min_step" not in errors and "max_step" not in errors and v["max_step"] < v["min_step"]:
        errors["max_step"] = "The longest step must be at least the shortest."
    if not 1.0 < v["growth"] <= MAX_GROWTH:
        errors["growth"] = f"Must be above 1 and at most {MAX_GROWTH:g}."
    if not errors and v["budget"] < v["min_step"] + 1:
        errors["budget"] = "The budget must hold at least one step (its shortest length plus 1 s to settle)."


def _validate_stages(raw: Any, errors: dict[str, str], max_users: int) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        errors["stages"] = "Give at least one stage as a list of {duration, users, spawn_rate}."
        return []
    if len(raw) > MAX_STAGES:
        errors["stages"] = f"At most {MAX_STAGES} stages."
        return []
    stages: list[dict[str, Any]] = []
    for i, item in enumerate(raw, start=1):
        if not isinstance(item, Mapping):
            errors["stages"] = f"Stage {i} must be an object with duration, users and spawn_rate."
            return []
        try:
            duration = _number(item.get("duration"), "int")
            users = _number(item.get("users"), "int")
            rate_raw = item.get("spawn_rate")
            rate = None if rate_raw in (None, "") else _number(rate_raw, "float")
        except ValueError as exc:
            errors["stages"] = f"Stage {i}: every field {exc}."
            return []
        if duration <= 0:
            errors["stages"] = f"Stage {i}: duration must be greater than zero."
        elif not 0 <= users <= max_users:
            errors["stages"] = f"Stage {i}: users must be between 0 and {max_users}."
        elif rate is not None and rate <= 0:
            errors["stages"] = f"Stage {i}: spawn rate must be greater than zero."
        if "stages" in errors:
            return []
        stages.append({"duration": duration, "users": users, "spawn_rate": rate})
    return stages


def build_plan(kind: str, p: Mapping[str, Any]) -> Plan:
    """Turn validated parameters into a start level and stages."""
    if kind == "constant":
        return Plan(0, (Stage(p["duration"], p["users"], p.get("spawn_rate")),))
    if kind == "ramp":
        rate = abs(p["to_users"] - p["from_users"]) / p["duration"]
        stages = [Stage(p["duration"], p["to_users"], rate)]
        if p.get("hold"):
            stages.append(Stage(p["hold"], p["to_users"], None))
        return Plan(p["from_users"], tuple(stages))
    if kind == "staircase":
        return Plan(
            0,
            tuple(
                Stage(p["step_duration"], p["start_users"] + i * p["step_users"], p.get("spawn_rate"))
                for i in range(p["steps"])
            ),
        )
    if kind == "spike":
        rate = p.get("spawn_rate")
        stages = []
        if p["spike_at"] > 0:
            stages.append(Stage(p["spike_at"], p["base_users"], None))
        stages.append(Stage(p["spike_duration"], p["peak_users"], rate))
        rest = p["duration"] - p["spike_at"] - p["spike_duration"]
        if rest > 0:
            stages.append(Stage(rest, p["base_users"], rate))
        return Plan(p["base_users"] if p["spike_at"] > 0 else 0, tuple(stages))
    if kind == "stages":
        return Plan(0, tuple(Stage(s["duration"], s["users"], s.get("spawn_rate")) for s in p["stages"]))
    if kind in SEARCH_KINDS:
        return _search_plan(kind, p)
    if kind in OPEN_MODEL_KINDS:
        if kind == "arrival_constant":
            rates = [RateStage(p["duration"], float(p["rate"]), float(p["rate"]))]
        else:
            rates = [RateStage(p["duration"], float(p["from_rate"]), float(p["to_rate"]))]
            if p.get("hold"):
                rates.append(RateStage(p["hold"], float(p["to_rate"]), float(p["to_rate"])))
        cap = int(p["max_in_flight"])
        return Plan(0, tuple(Stage(r.duration, cap, None) for r in rates), tuple(rates), cap)
    raise ProfileError({"kind": f"Unknown profile kind {kind!r}."})


def _search_plan(kind: str, p: Mapping[str, Any]) -> Plan:
    """The envelope of a capacity search: its growth phase at the shortest step length (as if
    every step passed at once), then the ceiling until the budget ends. The real steps are
    decided while the run goes; this bounds what it can ask for (peak load, duration)."""
    open_model = kind == "search_rate"
    load = float(p["start_rate"] if open_model else p["start_users"])
    ceiling = float(p["ceiling_rate"] if open_model else p["ceiling_users"])
    growth = float(p.get("growth") or 2.0)
    step = float((p.get("min_step") or 5) + 1)
    budget = float(p["budget"])
    levels: list[tuple[float, float]] = []
    used = 0.0
    while used < budget:
        duration = min(step, budget - used) if load < ceiling else budget - used
        levels.append((duration, load))
        used += duration
        grown = load * growth
        load = min(ceiling, grown if open_model else max(load + 1, math.floor(grown)))
    if open_model:
        cap = int(p["max_in_flight"])
        rates = tuple(RateStage(d, r, r) for d, r in levels)
        return Plan(0, tuple(Stage(d, cap, None) for d, _ in levels), rates, cap)
    return Plan(0, tuple(Stage(d, int(u), None) for d, u in levels))


def users_at(plan: Plan, t: float) -> float | None:
    """Planned users at ``t`` seconds after the start; ``None`` once the profile is over."""
    if t < 0:
        return float(plan.start_users)
    level = float(plan.start_users)
    start = 0.0
    for stage in plan.stages:
        end = start + stage.duration
        if t < end:
            elapsed = t - start
            if stage.spawn_rate is None:
                return float(stage.users)
            step = stage.spawn_rate * elapsed
            if stage.users >= level:
                return min(float(stage.users), level + step)
            return max(float(stage.users), level - step)
        # Level reached by the end of the stage (a slow spawn rate may not reach the target).
        if stage.spawn_rate is None:
            level = float(stage.users)
        else:
            step = stage.spawn_rate * stage.duration
            level = (
                min(float(stage.users), level + step)
                if stage.users >= level
                else max(float(stage.users), level - step)
            )
        start = end
    return None


# -- open model: arrival rate ------------------------------------------------------------------
def _rate_plan(plan_or_params: Plan | Mapping[str, Any], kind: str | None) -> Plan:
    if isinstance(plan_or_params, Plan):
        plan = plan_or_params
    else:
        params = plan_or_params
        kind = kind or params.get("kind") or ("arrival_constant" if "rate" in params else "arrival_ramp")
        plan = build_plan(kind, params)
    if not plan.is_open:
        raise ValueError("not an arrival-rate plan")
    return plan


def rate_at(plan_or_params: Plan | Mapping[str, Any], t: float, *, kind: str | None = None) -> float | None:
    """Planned arrival rate (iterations/s) at ``t``; ``None`` once the profile is over.

    Takes a plan, or validated parameters of an arrival kind (``kind`` given, or guessed from
    the parameter names).
    """
    plan = _rate_plan(plan_or_params, kind)
    start = 0.0
    for seg in plan.rates:
        end = start + seg.duration
        if t < end:
            elapsed = max(0.0, t - start)
            return seg.from_rate + (seg.to_rate - seg.from_rate) * elapsed / seg.duration
        start = end
    return None


def iterations_until(plan_or_params: Plan | Mapping[str, Any], t: float, *, kind: str | None = None) -> float:
    """The integral of :func:`rate_at` from 0 to ``t``: iterations planned to start by then."""
    plan = _rate_plan(plan_or_params, kind)
    total, start = 0.0, 0.0
    for seg in plan.rates:
        if t <= start:
            break
        elapsed = min(t, start + seg.duration) - start
        slope = (seg.to_rate - seg.from_rate) / seg.duration
        total += seg.from_rate * elapsed + slope * elapsed * elapsed / 2.0
        start += seg.duration
    return total


def start_offsets(plan: Plan) -> Iterator[float]:
    """Seconds after the start at which iterations 0, 1, 2, ... are due.

    Iteration ``n`` is due when the planned integral reaches ``n``, so a run of integral ``I``
    starts ``ceil(I)`` iterations (the first at t = 0 when the rate starts above zero).
    Within a linear segment ``r0 + a·τ``, ``r0·τ + a·τ²/2 = m`` is solved as
    ``τ = 2m / (r0 + sqrt(r0² + 2am))``, which stays exact when ``a`` is zero.
    """
    n = 0
    done, start = 0.0, 0.0
    for seg in plan.rates:
        total = seg.iterations
        slope = (seg.to_rate - seg.from_rate) / seg.duration
        r0 = seg.from_rate
        while n < done + total:
            m = n - done
            if m <= 0:
                tau = 0.0
            else:
                tau = 2.0 * m / (r0 + math.sqrt(max(0.0, r0 * r0 + 2.0 * slope * m)))
            yield start + min(tau, seg.duration)
            n += 1
        done += total
        start += seg.duration


def stage_index_at(plan: Plan, t: float) -> int | None:
    start = 0.0
    for i, stage in enumerate(plan.stages):
        start += stage.duration
        if t < start:
            return i
    return None


def preview(plan: Plan, *, max_points: int = 2000) -> tuple[list[float], list[float]]:
    """(seconds, users) points of the planned curve, for the preview chart.

    Open-model plans give (seconds, iterations/s) instead: see :func:`preview_unit`.
    """
    if plan.is_open:
        return _rate_preview(plan)
    duration = plan.duration
    if duration <= 0:
        return [0.0], [float(plan.start_users)]
    # Sample at stage boundaries (both sides) and on a grid, so steps stay sharp.
    ts: set[float] = {0.0, duration}
    start = 0.0
    for stage in plan.stages:
        ts.add(start)
        if stage.spawn_rate:
            ts.add(min(start + stage.duration, start + abs(stage.users) / stage.spawn_rate))
        start += stage.duration
        ts.add(max(0.0, start - 1e-6))
    step = max(1.0, duration / max_points)
    t = 0.0
    while t < duration:
        ts.add(t)
        t += step
    xs = sorted(x for x in ts if 0 <= x <= duration)
    ys = []
    for x in xs:
        u = users_at(plan, x if x < duration else duration - 1e-6)
        ys.append(float(u if u is not None else 0.0))
    return [round(x, 3) for x in xs], ys


def _rate_preview(plan: Plan) -> tuple[list[float], list[float]]:
    # The rate is piecewise linear: its segment ends draw it exactly.
    xs: list[float] = []
    ys: list[float] = []
    start = 0.0
    for seg in plan.rates:
        for x, y in ((start, seg.from_rate), (start + seg.duration, seg.to_rate)):
            if xs and xs[-1] == round(x, 3) and ys[-1] == y:
                continue
            xs.append(round(x, 3))
            ys.append(float(y))
        start += seg.duration
    return xs, ys


def shape_tick(plan: Plan, run_time: float) -> tuple[int, float] | None:
    """What a Locust ``LoadTestShape.tick`` returns at ``run_time``: (users, spawn rate).

    The planned curve is already interpolated, so the spawn rate only has to be high enough
    for Locust to reach each one-second target within that second.
    """
    u = users_at(plan, run_time)
    if u is None:
        return None
    target = int(round(u))
    nxt = users_at(plan, run_time + 1.0)
    delta = abs((nxt if nxt is not None else u) - u)
    rate = max(1.0, float(target), delta * 2.0)
    return target, rate
