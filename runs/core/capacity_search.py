"""Capacity search: find the most load that still meets an objective, step by step.

Pure module (no Django, no Locust, no I/O): a state machine fed one measured second at a time.
The Locust child drives it from its exact per-second histograms (``runs.core.engine.child.search``);
the tests feed it made-up seconds.

The objective is an SLO in the plan's threshold syntax (``p95 < 300 ms``, ``error_rate < 1%``,
``GET /x: p99 < 800``, ``rps >= 100``), or, when none is given, "until throughput stops growing".

One *step* holds one load (users, or iterations per second). Its first ``settle_seconds`` after
the load changed are not judged (queues fill, connections open). It is *decided* when it has
lasted ``min_step_seconds`` and every check is decisive — its 95 % interval lies on one side of
the limit, or is narrower than ``interval_width`` of the limit (then the point estimate
judges) — and, to pass, it has at least ``min_requests`` requests; a check whose interval lies
wholly beyond the limit fails the step at once. A step that reaches ``max_step_seconds`` is
decided on its point estimates. Intervals: a percentile's from the order statistics around its
rank (distribution-free), the error rate's Wilson interval, throughput's from the spread of
its seconds.

The next load: geometric growth (``growth`` ×, at least +1 user) while steps pass, capped at the
ceiling; after the first failure, bisection between the highest passing and the lowest failing
load until ``(high - low) / low <= precision`` (or, for users, they are one apart). The search
also ends when the time budget cannot hold another step, when the start load fails, and when the
ceiling passes. Every decision is a :class:`Decision` (its numbers and why), and the end a
:class:`Outcome` whose :func:`answer` is the sentence shown to people.

"Throughput still rises": a step passes this objective when its successful requests per second
reach ``prev · (1 + min_gain · (load / prev_load − 1))``, ``prev`` being the highest passing
step below it: at least ``min_gain`` (three quarters) of the gain a linear system would give.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runs.core import thresholds
from runs.core.histogram import Histogram

USERS, RATE = "users", "rate"
Z95 = 1.96
# Below this many requests a percentile's interval is not trusted to be decisive on a pass.
DEFAULT_MIN_REQUESTS = 100
MAX_DROPPED_PERCENT = 1.0  # open model: iterations the in-flight cap refused, of those due

# How a search ended.
FOUND = "found"  # a bracket within the precision: capacity between two loads
BELOW_START = "below_start"  # the start load already failed
ABOVE_CEILING = "above_ceiling"  # the ceiling passed: capacity is at least the ceiling
ERRORS = "errors"  # the start load got no successful answer at all
BUDGET = "budget"  # the time budget ran out before the bracket was narrow enough
STOPPED = "stopped"  # the run stopped before the search ended
STATUSES = (FOUND, BELOW_START, ABOVE_CEILING, ERRORS, BUDGET, STOPPED)


@dataclass(frozen=True)
class SearchConfig:
    model: str  # USERS (closed model) or RATE (open model, iterations/s)
    start: float
    ceiling: float
    budget_seconds: int
    objective: tuple[thresholds.Threshold, ...] = ()  # empty: until throughput stops growing
    growth: float = 2.0
    precision: float = 0.10
    min_step_seconds: int = 5
    max_step_seconds: int = 30
    settle_seconds: int = 1
    min_requests: int = DEFAULT_MIN_REQUESTS
    min_gain: float = 0.75
    interval_width: float = 0.10

    @property
    def throughput_objective(self) -> bool:
        return not self.objective

    def unit(self) -> str:
        return "users" if self.model == USERS else "it/s"

    def objective_label(self) -> str:
        if self.throughput_objective:
            return "until throughput stops growing"
        return ", ".join(item.label() for item in self.objective)


def config_from_params(params: Mapping[str, Any], *, open_model: bool) -> SearchConfig:
    """The config of a validated ``search_users`` / ``search_rate`` profile."""
    objective = tuple(thresholds.parse_thresholds(params.get("objective") or ""))
    return SearchConfig(
        model=RATE if open_model else USERS,
        start=float(params["start_rate"] if open_model else params["start_users"]),
        ceiling=float(params["ceiling_rate"] if open_model else params["ceiling_users"]),
        budget_seconds=int(params["budget"]),
        objective=objective,
        growth=float(params.get("growth") or 2.0),
        min_step_seconds=int(params.get("min_step") or 5),
        max_step_seconds=int(params.get("max_step") or 30),
    )


# -- measuring a step --------------------------------------------------------------------------
@dataclass
class _Scope:
    requests: int = 0
    failures: int = 0
    hist: Histogram = field(default_factory=Histogram)

    def add(self, requests: int, failures: int, hist: Histogram) -> None:
        self.requests += requests
        self.failures += failures
        self.hist.merge(hist)


@dataclass
class EndpointSample:
    """One endpoint's part of one second, as the child's recorder holds it."""

    requests: int
    failures: int
    hist: Histogram


@dataclass
class _Step:
    load: float
    start_t: int  # first second at this load (the change landed in the second before)
    overall: _Scope = field(default_factory=_Scope)
    endpoints: dict[tuple[str, str], _Scope] = field(default_factory=dict)
    per_second_ok: list[int] = field(default_factory=list)
    per_second_all: list[int] = field(default_factory=list)
    dropped: int = 0
    last_t: int = -1
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def judged_from(self) -> int:
        return self.start_t

    @property
    def seconds(self) -> int:
        return len(self.per_second_all)


@dataclass(frozen=True)
class Check:
    label: str
    metric: str
    observed: float | None
    limit: float | None
    low: float | None
    high: float | None
    passed: bool
    decisive: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "metric": self.metric,
            "observed": self.observed,
            "limit": self.limit,
            "low": _finite(self.low),
            "high": _finite(self.high),
            "passed": self.passed,
        }


@dataclass(frozen=True)
class Decision:
    """One decided step: its load, what it measured, the verdict, why, and what comes next."""

    index: int
    load: float
    start_t: int
    end_t: int
    requests: int
    failures: int
    rps: float
    goodput: float
    error_rate: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    dropped: int
    checks: tuple[Check, ...]
    passed: bool
    decided_by: str  # "interval", "max_step", "budget", "stopped"
    reason: str
    phase: str  # "grow" or "bisect": how this step's load was chosen
    next_load: float | None  # None: the search ended with this step

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "load": self.load,
            "start_t": self.start_t,
            "end_t": self.end_t,
            "requests": self.requests,
            "failures": self.failures,
            "rps": self.rps,
            "goodput": self.goodput,
            "error_rate": self.error_rate,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "dropped": self.dropped,
            "checks": [c.to_dict() for c in self.checks],
            "passed": self.passed,
            "decided_by": self.decided_by,
            "reason": self.reason,
            "phase": self.phase,
            "next_load": self.next_load,
        }


@dataclass(frozen=True)
class Outcome:
    status: str
    low: float | None  # highest passing load
    high: float | None  # lowest failing load
    message: str  # why the search ended

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "low": self.low, "high": self.high, "message": self.message}


def _finite(value: float | None) -> float | None:
    """JSON (and PostgreSQL's jsonb) has no infinity: an unbounded side is stored as null."""
    return value if value is not None and math.isfinite(value) else None


def _percentile_interval(hist: Histogram, q: float) -> tuple[float, float, float]:
    """(estimate, low, high) in ms of the q-th percentile: order statistics at the ranks
    n·p ∓ z·sqrt(n·p·(1−p)) (a distribution-free 95 % interval)."""
    n = hist.total
    p = q / 100.0
    spread = Z95 * math.sqrt(n * p * (1.0 - p))
    low_rank = max(1, math.floor(n * p - spread))
    high_rank = min(n, math.ceil(n * p + spread) + 1)
    est = hist.percentile_ms(q)
    low = hist.percentile_ms(100.0 * low_rank / n)
    high = hist.percentile_ms(100.0 * high_rank / n)
    return est, min(low, est), max(high, est)


def _wilson(failures: int, n: int) -> tuple[float, float, float]:
    """(estimate, low, high) of an error rate in percent."""
    p = failures / n
    denom = 1 + Z95 * Z95 / n
    centre = (p + Z95 * Z95 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95 * Z95 / (4 * n * n)) / denom
    return 100.0 * p, 100.0 * max(0.0, centre - half), 100.0 * min(1.0, centre + half)


def _mean_interval(values: Sequence[int]) -> tuple[float, float, float]:
    k = len(values)
    mean = sum(values) / k if k else 0.0
    if k < 2:
        return mean, 0.0, math.inf
    var = sum((v - mean) ** 2 for v in values) / (k - 1)
    half = Z95 * math.sqrt(var / k)
    return mean, mean - half, mean + half


def _judge(
    label: str, metric: str, observed: float, low: float, high: float, op: str, limit: float, width: float
) -> Check:
    holds = {"<": observed < limit, "<=": observed <= limit, ">=": observed >= limit}.get(
        op, observed > limit
    )
    if op in thresholds.UPPER_OPS:
        certain = high < limit or low > limit or (op == "<=" and high == limit)
    else:
        certain = low > limit or high < limit or (op == ">=" and low == limit)
    narrow = math.isfinite(high) and (high - low) <= width * max(abs(limit), 1e-9)
    return Check(label, metric, observed, limit, low, high, holds, certain or narrow)


# -- the search --------------------------------------------------------------------------------
class CapacitySearch:
    """Feed it every measured second (:meth:`feed`); read :attr:`load` for the load to apply.

    ``t`` counts whole seconds from the start of the run. After a decision, the next step
    starts at the following second unless :meth:`applied` says the new load landed later.
    """

    def __init__(self, config: SearchConfig) -> None:
        if config.start <= 0 or config.ceiling < config.start:
            raise ValueError("the start load must be above zero and at most the ceiling")
        self.config = config
        self.load = _round_load(config.start, config.model)
        self.phase = "grow"
        self.decisions: list[Decision] = []
        self.outcome: Outcome | None = None
        self.step = _Step(load=self.load, start_t=config.settle_seconds)
        self.passes: dict[float, Decision] = {}
        self.fails: dict[float, Decision] = {}

    @property
    def done(self) -> bool:
        return self.outcome is not None

    @property
    def low(self) -> float | None:
        return max(self.passes) if self.passes else None

    @property
    def high(self) -> float | None:
        return min(self.fails) if self.fails else None

    def applied(self, t: int) -> None:
        """The current load took effect during second ``t - 1``: judge from ``t`` (plus settling)."""
        if not self.done and self.step.seconds == 0:
            self.step.start_t = max(self.step.start_t, t + self.config.settle_seconds)

    def feed(
        self,
        t: int,
        endpoints: Mapping[tuple[str, str], EndpointSample],
        *,
        dropped: int = 0,
        errors: Mapping[str, int] | None = None,
    ) -> Decision | None:
        """Add second ``t``; returns the decision when this second decided the step."""
        if self.done or t < self.step.start_t or t <= self.step.last_t:
            return None
        step = self.step
        step.last_t = t
        total = ok = 0
        for key, sample in endpoints.items():
            step.overall.add(sample.requests, sample.failures, sample.hist)
            scope = step.endpoints.get(key)
            if scope is None:
                scope = step.endpoints[key] = _Scope()
            scope.add(sample.requests, sample.failures, sample.hist)
            total += sample.requests
            ok += sample.requests - sample.failures
        step.per_second_all.append(total)
        step.per_second_ok.append(ok)
        step.dropped += dropped
        for text, count in (errors or {}).items():
            step.errors[text] = step.errors.get(text, 0) + count
        return self._maybe_decide(t)

    def stop(self, t: int) -> Decision | None:
        """The run is stopping: decide the current step from what it has, end the search."""
        if self.done:
            return None
        decision = None
        if self.step.seconds > 0:
            decision = self._decide(t, decided_by="stopped", final=True)
        if self.outcome is None:
            self.outcome = self._outcome_from_bracket(STOPPED, "The run stopped before the search ended.")
        return decision

    # -- deciding ------------------------------------------------------------------------------
    def _checks(self, step: _Step) -> list[Check]:
        cfg = self.config
        checks: list[Check] = []
        seconds = step.seconds
        width = cfg.interval_width
        if cfg.model == RATE and seconds:
            # Dropped iterations are counted, not sampled: the share itself decides.
            due = max(1.0, step.load * seconds)
            share = 100.0 * step.dropped / due
            checks.append(
                Check(
                    f"dropped iterations < {MAX_DROPPED_PERCENT:g}%",
                    "dropped",
                    share,
                    MAX_DROPPED_PERCENT,
                    share,
                    share,
                    share < MAX_DROPPED_PERCENT,
                    True,
                )
            )
        if step.overall.requests and step.overall.failures == step.overall.requests:
            checks.append(Check("some requests succeed", "goodput", 0.0, None, 0.0, 0.0, False, True))
            return checks
        for item in cfg.objective:
            scope = step.overall if item.endpoint is None else step.endpoints.get(item.endpoint, _Scope())
            label = item.label()
            if item.metric == "rps":
                if seconds:
                    values = step.per_second_all if item.endpoint is None else [scope.requests // seconds]
                    est, low, high = _mean_interval(values)
                    checks.append(_judge(label, "rps", est, low, high, item.op, item.value, width))
                continue
            if not scope.requests:
                checks.append(Check(label, item.metric, None, item.value, None, None, False, False))
                continue
            if item.metric == "error_rate":
                est, low, high = _wilson(scope.failures, scope.requests)
            elif item.metric == "max":
                est = scope.hist.max_ms
                low, high = est, (est if est >= item.value else math.inf)
            else:
                est, low, high = _percentile_interval(scope.hist, float(item.metric[1:]))
            checks.append(_judge(label, item.metric, est, low, high, item.op, item.value, width))
        if cfg.throughput_objective and seconds:
            est, low, high = _mean_interval(step.per_second_ok)
            prev = self._previous_pass(step.load)
            if prev is None:
                checks.append(Check("throughput above zero", "goodput", est, 0.0, low, high, est > 0, True))
            else:
                ratio = step.load / prev.load
                need = prev.goodput * (1.0 + cfg.min_gain * (ratio - 1.0))
                label = f"throughput grows ≥ {need:.1f} req/s (from {prev.goodput:.1f} at {_fmt(prev.load)})"
                checks.append(_judge(label, "goodput", est, low, high, ">=", need, width / 2))
        return checks

    def _previous_pass(self, load: float) -> Decision | None:
        below = [d for k, d in self.passes.items() if k < load]
        return max(below, key=lambda d: d.load) if below else None

    def _maybe_decide(self, t: int) -> Decision | None:
        cfg, step = self.config, self.step
        over_budget = t + 1 >= cfg.budget_seconds
        if step.seconds >= cfg.max_step_seconds:
            return self._decide(t, decided_by="max_step")
        if over_budget:
            return self._decide(t, decided_by="budget", final=True)
        if step.seconds < cfg.min_step_seconds:
            return None
        checks = self._checks(step)
        if any(c.decisive and not c.passed for c in checks):
            return self._decide(t, decided_by="interval", checks=checks)
        if step.overall.requests >= cfg.min_requests and checks and all(c.decisive for c in checks):
            return self._decide(t, decided_by="interval", checks=checks)
        return None

    def _decide(
        self, t: int, *, decided_by: str, final: bool = False, checks: list[Check] | None = None
    ) -> Decision:
        cfg, step = self.config, self.step
        if checks is None:
            checks = self._checks(step)
        hist, seconds = step.overall.hist, max(1, step.seconds)
        requests, failures = step.overall.requests, step.overall.failures
        if not requests:
            checks = [*checks, Check("requests complete", "requests", 0.0, None, 0.0, 0.0, False, True)]
        passed = all(c.passed for c in checks) and bool(requests)
        reason = _reason(checks, passed, decided_by, step)
        next_load = None if final else self._next_load(step, passed, requests - failures)
        if next_load is not None and t + 1 + cfg.settle_seconds + cfg.min_step_seconds > cfg.budget_seconds:
            next_load = None
            self.outcome = Outcome(
                BUDGET,
                *self._bracket_with(step.load, passed),
                f"The time budget of {cfg.budget_seconds} s cannot hold another step.",
            )
        decision = Decision(
            index=len(self.decisions),
            load=step.load,
            start_t=step.start_t,
            end_t=t,
            requests=requests,
            failures=failures,
            rps=requests / seconds,
            goodput=(requests - failures) / seconds,
            error_rate=100.0 * failures / requests if requests else None,
            p50_ms=hist.percentile_ms(50) if requests else None,
            p95_ms=hist.percentile_ms(95) if requests else None,
            p99_ms=hist.percentile_ms(99) if requests else None,
            dropped=step.dropped,
            checks=tuple(checks),
            passed=passed,
            decided_by=decided_by,
            reason=reason,
            phase=self.phase,
            next_load=next_load,
        )
        self.decisions.append(decision)
        (self.fails if passed else self.passes).pop(step.load, None)
        (self.passes if passed else self.fails)[step.load] = decision
        if final and self.outcome is None:
            if decided_by == "stopped":
                self.outcome = self._outcome_from_bracket(STOPPED, "The run stopped before the search ended.")
            elif self.low is not None and self.high is not None and _narrow(self.low, self.high, cfg):
                self.outcome = Outcome(
                    FOUND,
                    self.low,
                    self.high,
                    f"The bracket {_fmt(self.low)}–{_fmt(self.high)} {cfg.unit()} is within "
                    f"{cfg.precision:.0%} (its last step was cut short by the time budget).",
                )
            else:
                self.outcome = self._outcome_from_bracket(
                    BUDGET, f"The time budget of {cfg.budget_seconds} s was spent."
                )
        if next_load is not None:
            if next_load < step.load or self.high is not None:
                self.phase = "bisect"
            self.load = next_load
            self.step = _Step(load=next_load, start_t=t + 1 + cfg.settle_seconds)
        return decision

    def _bracket_with(self, load: float, passed: bool) -> tuple[float | None, float | None]:
        """(highest passing, lowest failing) load once ``load``'s verdict is counted."""
        low = max([*(k for k in self.passes if k != load), *([load] if passed else [])], default=None)
        high = min([*(k for k in self.fails if k != load), *([] if passed else [load])], default=None)
        return low, high

    def _next_load(self, step: _Step, passed: bool, successes: int) -> float | None:
        cfg = self.config
        low, high = self._bracket_with(step.load, passed)
        if low is None:
            if successes == 0:
                self.outcome = Outcome(
                    ERRORS,
                    None,
                    step.load,
                    f"No request succeeded at the start load of {_fmt(step.load)} {cfg.unit()}.",
                )
            else:
                self.outcome = Outcome(
                    BELOW_START,
                    None,
                    step.load,
                    f"The start load of {_fmt(step.load)} {cfg.unit()} already fails the objective.",
                )
            return None
        if high is None:
            if low >= cfg.ceiling:
                self.outcome = Outcome(
                    ABOVE_CEILING,
                    low,
                    None,
                    f"The ceiling of {_fmt(cfg.ceiling)} {cfg.unit()} still meets the objective.",
                )
                return None
            grown = low * cfg.growth
            if cfg.model == USERS:
                grown = max(low + 1, math.floor(grown))
            return min(_round_load(grown, cfg.model), _round_load(cfg.ceiling, cfg.model))
        if _narrow(low, high, cfg):
            self.outcome = Outcome(
                FOUND,
                low,
                high,
                f"The bracket {_fmt(low)}–{_fmt(high)} {cfg.unit()} is within {cfg.precision:.0%}.",
            )
            return None
        mid = _round_load((low + high) / 2.0, cfg.model)
        if mid <= low or mid >= high:
            self.outcome = Outcome(FOUND, low, high, f"No load lies between {_fmt(low)} and {_fmt(high)}.")
            return None
        return mid

    def _outcome_from_bracket(self, status: str, message: str) -> Outcome:
        return Outcome(status, self.low, self.high, message)


def _narrow(low: float, high: float, cfg: SearchConfig) -> bool:
    if cfg.model == USERS and high - low <= 1:
        return True
    return (high - low) / low <= cfg.precision


def _round_load(value: float, model: str) -> float:
    if model == USERS:
        return float(max(1, round(value)))
    # Rates: three significant digits are finer than any step the search makes.
    digits = max(0, 2 - math.floor(math.log10(abs(value)))) if value > 0 else 0
    return round(value, digits)


def _fmt(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}" if value == int(value) else f"{value:.3g}"


def _reason(checks: Sequence[Check], passed: bool, decided_by: str, step: _Step) -> str:
    how = {
        "interval": "",
        "max_step": " (at the longest step length, on the point estimates)",
        "budget": " (the budget ran out; on the point estimates)",
        "stopped": " (the run stopped; on the point estimates)",
    }[decided_by]
    if not step.overall.requests:
        return f"no request completed in {step.seconds} s{how}"
    failed = [c for c in checks if not c.passed]
    if passed:
        parts = [f"{c.label}: {_observed(c)}" for c in checks]
        return ("met " + "; ".join(parts) if parts else "met") + how
    parts = []
    for c in failed:
        if c.metric == "goodput" and c.limit is None:
            top = max(step.errors.items(), key=lambda kv: kv[1])[0] if step.errors else "every request failed"
            parts.append(f"no request succeeded ({top})")
        else:
            parts.append(f"{c.label} broken: {_observed(c)}")
    return "; ".join(parts) + how


def _observed(check: Check) -> str:
    if check.observed is None:
        return "no request to measure"
    if check.metric in ("goodput", "rps"):
        return f"{check.observed:.1f} req/s"
    if check.metric in ("error_rate", "dropped"):
        return f"{check.observed:.2f}%"
    return f"{check.observed:.1f} ms"


# -- the answer --------------------------------------------------------------------------------
def answer(
    config: SearchConfig, decisions: Sequence[Mapping[str, Any]], outcome: Mapping[str, Any] | None
) -> str:
    """The plain sentence: the capacity, what broke above it and how sure the bracket is.

    Works on stored dicts (``Decision.to_dict`` / ``Outcome.to_dict``), so a page reading the
    run's stored search says exactly what the child decided."""
    unit = config.unit()
    slo = "throughput stops growing" if config.throughput_objective else f"SLO {config.objective_label()}"
    passes = [d for d in decisions if d.get("passed")]
    fails = [d for d in decisions if not d.get("passed")]
    low = max(passes, key=lambda d: d["load"]) if passes else None
    above = [d for d in fails if low is None or d["load"] > low["load"]]
    high = min(above, key=lambda d: d["load"]) if above else None
    status = (outcome or {}).get("status")
    if not decisions:
        return "No step of the search was decided."
    if low is None:
        assert high is not None
        if status == ERRORS:
            return (
                f"No capacity: at the start load of {_fmt(high['load'])} {unit} no request succeeded "
                f"({high['reason']})."
            )
        return (
            f"Capacity is below the start load: {_fmt(high['load'])} {unit} already broke the "
            f"{slo} ({high['reason']}). Start lower."
        )
    head = (
        f"Capacity: {_fmt(low['load'])} {unit} / {low['goodput']:.0f} req/s"
        + (f" at p95 {low['p95_ms']:.0f} ms" if low.get("p95_ms") is not None else "")
        + f" ({slo})"
    )
    if high is None:
        if status == ABOVE_CEILING:
            return (
                head
                + f"; the ceiling of {_fmt(low['load'])} {unit} never broke it: capacity is at least that."
            )
        return head + f"; no higher load was judged ({(outcome or {}).get('message', '')})."
    spread = (high["load"] - low["load"]) / low["load"]
    tail = (
        f"; {_fmt(high['load'])} {unit} broke it ({high['reason']}). "
        f"The capacity lies between {_fmt(low['load'])} and {_fmt(high['load'])} {unit} "
        f"(bracket {spread:.0%})"
    )
    if status in (BUDGET, STOPPED):
        tail += f", wider than wanted: {(outcome or {}).get('message', '')}"
    return head + tail + "."


# -- two searches --------------------------------------------------------------------------------
def bracket_of(decisions: Sequence[Mapping[str, Any]]) -> tuple[float | None, float | None]:
    """(highest passing load, lowest failing load above it) of stored decisions."""
    passes = [float(d["load"]) for d in decisions if d.get("passed")]
    low = max(passes) if passes else None
    fails = [float(d["load"]) for d in decisions if not d.get("passed") and (low is None or d["load"] > low)]
    return low, (min(fails) if fails else None)


def search_change(
    reference: Sequence[Mapping[str, Any]], candidate: Sequence[Mapping[str, Any]], *, unit: str
) -> dict[str, Any] | None:
    """The candidate search's capacity against the reference's, judged by their brackets: lower
    when the candidate's first failing load is at or below the reference's capacity, higher when
    its capacity is at or above the reference's first failing load; otherwise the brackets
    overlap and no change is shown. None when either search found no capacity."""
    ref_low, ref_high = bracket_of(reference)
    cand_low, cand_high = bracket_of(candidate)
    if ref_low is None or cand_low is None:
        return None
    change = cand_low / ref_low - 1.0
    if cand_high is not None and cand_high <= ref_low:
        verdict, words = "lower", "lower: the candidate broke at a load the reference still met"
    elif ref_high is not None and cand_low >= ref_high:
        verdict, words = "higher", "higher: the candidate met a load that broke the reference"
    else:
        verdict, words = "no significant change", "the brackets overlap"
    return {
        "reference": ref_low,
        "reference_high": ref_high,
        "candidate": cand_low,
        "candidate_high": cand_high,
        "change": change,
        "verdict": verdict,
        "sentence": (
            f"Capacity {_fmt(cand_low)} {unit} against {_fmt(ref_low)} {unit} ({change:+.0%}); {words} "
            f"(brackets {_fmt(cand_low)}–{_fmt(cand_high)} and {_fmt(ref_low)}–{_fmt(ref_high)} {unit})."
        ),
    }
