"""What the knee analysis shares: its result (``KneeResult``), the load levels averaged over
repeated visits, and Little's law checked at each level. The knee itself is found from the
operational laws in ``runs.core.analysis.capacity`` (``knee_from_steps``).

Little's law ``N = X · (R + Z)`` is checked per step: a large deviation means the think time
``Z`` is wrong, the generator could not keep its users busy, or requests were lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["KneeResult", "LittlesLawCheck", "levels_averaged", "littles_law_checks"]

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
