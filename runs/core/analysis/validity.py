"""Run-validity warnings: reasons not to trust a run's steady-state figures.

The checks work on ``aggregate_steps`` output (which keeps each step's trimmed per-second
rates) and, optionally, the raw per-second points for checks over the whole run.

The warning type is named ``ValidityWarning`` rather than ``Warning`` so it does not shadow
Python's built-in ``Warning`` class wherever it is imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import stats

from runs.core.analysis.steps import IntervalPoint, StepAggregate

__all__ = ["ValidityWarning", "check_validity"]

Severity = Literal["warning", "info"]


@dataclass(frozen=True)
class ValidityWarning:
    code: str
    message: str
    detail: dict[str, Any] = field(default_factory=dict)
    severity: Severity = "warning"


def check_validity(
    steps: Sequence[StepAggregate],
    *,
    points: Sequence[IntervalPoint] | None = None,
    closed_model: bool = True,
    used_for_capacity: bool = True,
    cpu_limit_percent: float = 90.0,
    min_requests_per_step: int = 200,
    max_error_rate: float = 0.01,
    max_tail_cv: float = 0.10,
    tail_fraction: float = 0.5,
    max_drift: float = 0.10,
    steady_alpha: float = 0.01,
) -> list[ValidityWarning]:
    """All warnings for one run, in a stable order (by check, then by step).

    * ``generator_cpu``: load-generator CPU above ``cpu_limit_percent`` in a step's steady
      state, or in any second of ``points``: the generator, not the target, may be the limit.
    * ``too_few_requests``: fewer than ``min_requests_per_step`` requests in a step, so its p99
      rests on a handful of samples.
    * ``high_error_rate``: failures above ``max_error_rate`` of requests in a step.
    * ``not_steady``: in the last ``tail_fraction`` of a step, per-second throughput has a
      coefficient of variation above ``max_tail_cv`` beyond Poisson counting noise (and
      significantly over-dispersed at ``steady_alpha``), or a Kendall-tau trend significant at
      ``steady_alpha`` whose Theil–Sen line drifts by more than ``max_drift`` of the mean.
    * ``coordinated_omission`` (info): closed-model latencies understate what an open arrival
      stream would see once the target slows, because users wait instead of arriving.
    * ``no_steps``: no step long enough to analyse.
    """
    if not steps:
        return [
            ValidityWarning(
                code="no_steps",
                message=(
                    "No load step could be analysed: the run held no planned step for 3 s or more "
                    "(a run whose user counts did not follow its plan needs 10 s at one count)."
                ),
            )
        ]
    warnings: list[ValidityWarning] = []
    warnings += _cpu_warnings(steps, points, cpu_limit_percent)
    for step in steps:
        if step.requests < min_requests_per_step:
            warnings.append(
                ValidityWarning(
                    code="too_few_requests",
                    message=(
                        f"Step at {step.users} users has {step.requests} requests "
                        f"(< {min_requests_per_step}); its p99 is not reliable."
                    ),
                    detail={"users": step.users, "requests": step.requests},
                )
            )
    for step in steps:
        if step.error_rate > max_error_rate:
            warnings.append(
                ValidityWarning(
                    code="high_error_rate",
                    message=(
                        f"Step at {step.users} users failed {step.error_rate:.1%} of requests "
                        f"(> {max_error_rate:.1%}); latency of failures may distort it."
                    ),
                    detail={"users": step.users, "error_rate": step.error_rate},
                )
            )
    for step in steps:
        unsteady = _steadiness(step, tail_fraction, max_tail_cv, max_drift, steady_alpha)
        if unsteady:
            warnings.append(unsteady)
    if closed_model and used_for_capacity:
        growth = steps[-1].p95_ms / steps[0].p95_ms if steps[0].p95_ms > 0 else float("nan")
        warnings.append(
            ValidityWarning(
                code="coordinated_omission",
                severity="info",
                message=(
                    "Closed-model run: each user waits for its response before sending the "
                    "next request, so when the target slows fewer requests are sent and the "
                    "slow period is under-sampled. Latency at high load is understated "
                    "against an open (arrival-rate) workload of the same throughput."
                ),
                detail={"p95_growth_over_run": growth},
            )
        )
    return warnings


def _cpu_warnings(
    steps: Sequence[StepAggregate],
    points: Sequence[IntervalPoint] | None,
    limit: float,
) -> list[ValidityWarning]:
    out = [
        ValidityWarning(
            code="generator_cpu",
            message=(
                f"Load generator CPU reached {step.cpu_max:.0f}% at {step.users} users "
                f"(> {limit:.0f}%); the generator may have limited the load."
            ),
            detail={"users": step.users, "cpu_max": step.cpu_max, "cpu_mean": step.cpu_mean},
        )
        for step in steps
        if step.cpu_max is not None and step.cpu_max > limit
    ]
    if points is not None:
        hot = sorted(p.t for p in points if p.cpu_percent is not None and p.cpu_percent > limit)
        if hot:
            out.append(
                ValidityWarning(
                    code="generator_cpu",
                    message=(
                        f"Load generator CPU was above {limit:.0f}% in {len(hot)} second(s) "
                        f"of the run, first at t = {hot[0]} s."
                    ),
                    detail={"seconds": hot},
                )
            )
    return out


def _steadiness(
    step: StepAggregate, tail_fraction: float, max_cv: float, max_drift: float, alpha: float
) -> ValidityWarning | None:
    rates = np.asarray(step.rates, dtype=float)
    tail = rates[len(rates) - max(3, int(len(rates) * tail_fraction)) :]
    mean = float(tail.mean()) if tail.size else 0.0
    if tail.size < 3 or mean <= 0:
        return None
    # Per-second request counts carry Poisson counting noise (variance = mean) even in a
    # steady state. Only variance beyond that says the load itself is moving, and only when
    # the dispersion test says the excess is not itself noise.
    variance = float(tail.var(ddof=1))
    dispersion_p = float(stats.chi2.sf((tail.size - 1) * variance / mean, tail.size - 1))
    cv = float(np.sqrt(max(variance - mean, 0.0)) / mean)
    noisy = cv > max_cv and dispersion_p < alpha
    t = np.arange(tail.size)
    tau = stats.kendalltau(t, tail)
    slope = float(stats.theilslopes(tail, t).slope)
    drift = slope * (tail.size - 1) / mean
    trending = bool(tau.pvalue < alpha) and abs(drift) > max_drift
    if not noisy and not trending:
        return None
    reasons = []
    if noisy:
        reasons.append(f"throughput CV {cv:.0%} > {max_cv:.0%} beyond counting noise")
    if trending:
        reasons.append(f"throughput drifted {drift:+.0%} (Kendall p = {tau.pvalue:.2g})")
    return ValidityWarning(
        code="not_steady",
        message=(
            f"Step at {step.users} users did not reach a steady state in its last "
            f"{tail.size} s: {'; '.join(reasons)}. Lengthen the step or the warm-up."
        ),
        detail={
            "users": step.users,
            "cv": cv,
            "dispersion_p": dispersion_p,
            "drift": drift,
            "trend_p": float(tau.pvalue),
        },
    )
