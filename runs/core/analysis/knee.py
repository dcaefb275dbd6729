"""Knee detection over load steps: where throughput stops scaling and latency leaves its base.

Two criteria, both evaluated step by step in order of increasing users:

* **throughput**: the marginal gain ``(X_i − X_{i−1}) / (N_i − N_{i−1})`` falls below
  ``gain_fraction`` × the initial slope ``X_1 / N_1`` (requests/s per user at the lowest load);
* **latency**: ``R_i > R_base · (1 + latency_threshold)``, with ``R_base`` the latency of the
  lowest step.

The first step where both hold is the *saturated* step; the step before it is the *knee*,
the highest load that still scaled. Little's law ``N = X · (R + Z)`` is checked per step:
a large deviation means the think time ``Z`` is wrong, the generator could not keep its users
busy, or requests were lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from runs.core.analysis.steps import StepAggregate

__all__ = ["KneeResult", "LittlesLawCheck", "find_knee", "find_knee_from_steps"]

KneeStatus = Literal["knee", "no_knee", "insufficient_data"]
MIN_STEPS = 3


@dataclass(frozen=True)
class LittlesLawCheck:
    users: float
    throughput_rps: float
    latency_ms: float
    implied_users: float  # X · (R + Z)
    deviation: float  # (implied − users) / users


@dataclass(frozen=True)
class KneeResult:
    status: KneeStatus
    knee_users: float | None
    saturated_users: float | None
    max_throughput_rps: float | None
    max_throughput_users: float | None
    initial_slope_rps_per_user: float | None
    base_latency_ms: float | None
    littles_law: tuple[LittlesLawCheck, ...]
    evidence: tuple[str, ...]
    # From runs.core.analysis.capacity (the operational-laws knee): R₀ + Z as the cycle time N/X at
    # the lowest load, the one plain sentence that heads the analysis, and why it is low
    # confidence ("" when it is not).
    cycle_ms: float | None = None
    think_time_s: float = 0.0
    headline: str = ""
    confidence_note: str = ""


def find_knee_from_steps(
    steps: Sequence[StepAggregate],
    *,
    latency: Literal["mean", "p50"] = "mean",
    gain_fraction: float = 0.5,
    latency_threshold: float = 0.5,
    think_time_s: float = 0.0,
    littles_law_tolerance: float = 0.1,
) -> KneeResult:
    """``find_knee`` over ``aggregate_steps`` output. Little's law needs the *mean* latency."""
    return find_knee(
        [s.users for s in steps],
        [s.throughput_rps for s in steps],
        [s.mean_ms if latency == "mean" else s.p50_ms for s in steps],
        gain_fraction=gain_fraction,
        latency_threshold=latency_threshold,
        think_time_s=think_time_s,
        littles_law_tolerance=littles_law_tolerance,
    )


def find_knee(
    users: Sequence[float],
    throughput_rps: Sequence[float],
    latency_ms: Sequence[float],
    *,
    gain_fraction: float = 0.5,
    latency_threshold: float = 0.5,
    think_time_s: float = 0.0,
    littles_law_tolerance: float = 0.1,
) -> KneeResult:
    """Find the knee of a capacity curve (see the module docstring for the criteria)."""
    n, x, r = levels_averaged(users, throughput_rps, latency_ms)
    littles = littles_law_checks(n, x, r, think_time_s)
    evidence = [
        f"Little's law off by {c.deviation:+.0%} at {c.users:g} users: "
        f"X·(R+Z) = {c.implied_users:.1f} (think time {think_time_s:g} s); check the think "
        "time, or whether the generator kept every user busy"
        for c in littles
        if abs(c.deviation) > littles_law_tolerance
    ]

    if len(n) < MIN_STEPS or n[0] <= 0 or x[0] <= 0:
        reason = (
            f"only {len(n)} step(s); need at least {MIN_STEPS} to judge scaling"
            if len(n) < MIN_STEPS
            else "the lowest step has no users or no throughput; no initial slope"
        )
        return KneeResult(
            status="insufficient_data",
            knee_users=None,
            saturated_users=None,
            max_throughput_rps=float(x.max()) if len(x) else None,
            max_throughput_users=float(n[int(x.argmax())]) if len(x) else None,
            initial_slope_rps_per_user=None,
            base_latency_ms=None,
            littles_law=littles,
            evidence=(reason, *evidence),
        )

    slope = x[0] / n[0]
    base = r[0]
    limit = base * (1.0 + latency_threshold)
    best = int(x.argmax())
    status: KneeStatus = "no_knee"
    knee_users = saturated_users = None

    for i in range(1, len(n)):
        gain = (x[i] - x[i - 1]) / (n[i] - n[i - 1]) / slope
        flat = gain < gain_fraction
        slow = r[i] > limit
        span = f"{n[i - 1]:g}→{n[i]:g} users"
        if flat and slow:
            status = "knee"
            knee_users, saturated_users = float(n[i - 1]), float(n[i])
            evidence.insert(
                0,
                f"knee at {n[i - 1]:g} users: from {span} throughput gained "
                f"{gain:.0%} of the initial {slope:.2f} req/s per user (< {gain_fraction:.0%}) "
                f"and latency rose to {r[i]:.1f} ms (> {limit:.1f} ms = base {base:.1f} ms "
                f"+{latency_threshold:.0%})",
            )
            break
        if flat:
            evidence.append(
                f"{span}: throughput gain {gain:.0%} of initial slope, but latency "
                f"{r[i]:.1f} ms is within {latency_threshold:.0%} of base {base:.1f} ms"
            )
        elif slow:
            evidence.append(
                f"{span}: latency {r[i]:.1f} ms left base {base:.1f} ms, but throughput "
                f"still gained {gain:.0%} of initial slope"
            )

    if status == "no_knee":
        evidence.insert(
            0,
            f"no knee up to {n[-1]:g} users: throughput never both flattened "
            f"(< {gain_fraction:.0%} of initial slope) and lost its base latency",
        )
    evidence.append(f"max throughput {x[best]:.1f} req/s at {n[best]:g} users")
    return KneeResult(
        status=status,
        knee_users=knee_users,
        saturated_users=saturated_users,
        max_throughput_rps=float(x[best]),
        max_throughput_users=float(n[best]),
        initial_slope_rps_per_user=float(slope),
        base_latency_ms=float(base),
        littles_law=littles,
        evidence=tuple(evidence),
    )


def levels_averaged(
    users: Sequence[float], throughput_rps: Sequence[float], latency_ms: Sequence[float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(users, throughput, latency) per distinct user count, ascending. A load profile may visit
    the same user count twice (up then down, or a spike's base): the visits are averaged."""
    n = np.asarray(users, dtype=float)
    x = np.asarray(throughput_rps, dtype=float)
    r = np.asarray(latency_ms, dtype=float)
    if not len(n) == len(x) == len(r):
        raise ValueError("users, throughput and latency must have the same length")
    n, inverse = np.unique(n, return_inverse=True)
    visits = np.bincount(inverse)
    return n, np.bincount(inverse, weights=x) / visits, np.bincount(inverse, weights=r) / visits


def littles_law_checks(
    n: np.ndarray, x: np.ndarray, r: np.ndarray, think_time_s: float
) -> tuple[LittlesLawCheck, ...]:
    """Little's law at each level: N = X·(R + Z), with what the measured X and R imply."""
    return tuple(_littles_law(ni, xi, ri, think_time_s) for ni, xi, ri in zip(n, x, r, strict=True))


def _littles_law(users: float, x: float, r_ms: float, think_s: float) -> LittlesLawCheck:
    implied = x * (r_ms / 1000.0 + think_s)
    deviation = (implied - users) / users if users else float("nan")
    return LittlesLawCheck(
        users=float(users),
        throughput_rps=float(x),
        latency_ms=float(r_ms),
        implied_users=float(implied),
        deviation=float(deviation),
    )
