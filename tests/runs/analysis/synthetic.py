"""Seeded synthetic runs for the analysis tests (no database, no Locust).

``closed_model_run`` simulates a step-load run against a target with ``servers`` parallel
workers of mean service time ``service_ms``, driven by users with think time ``think_s``.
Throughput and mean latency per step follow the asymptotic bounds of a closed queueing network:
X = min(N / (S + Z), c / S) and R = N / X − Z (Little's law), so the knee sits near
N* = c · (S + Z) / S. Each second gets Poisson request counts and log-normal latencies around R.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from runs.core.analysis.steps import IntervalPoint
from runs.core.histogram import Histogram


def ar1(rng: np.random.Generator, n: int, *, phi: float, mean: float, cv: float) -> np.ndarray:
    """A stationary AR(1) series with the given mean, coefficient of variation and lag-1 ρ."""
    sd = cv * mean
    out = np.empty(n)
    out[0] = rng.normal(0.0, sd)
    shocks = rng.normal(0.0, sd * np.sqrt(1.0 - phi**2), n)
    for i in range(1, n):
        out[i] = phi * out[i - 1] + shocks[i]
    return mean + out


def steady_latency(users: float, *, service_ms: float, think_s: float, servers: int) -> tuple[float, float]:
    """(throughput req/s, mean latency ms) of the closed model at ``users``."""
    s = service_ms / 1000.0
    x = min(users / (s + think_s), servers / s)
    r = users / x - think_s
    return x, r * 1000.0


def closed_model_run(
    levels: Sequence[int],
    *,
    step_seconds: int = 60,
    ramp_seconds: int = 3,
    service_ms: float = 50.0,
    think_s: float = 1.0,
    servers: int = 4,
    warmup_seconds: int = 0,
    latency_sigma: float = 0.4,
    cpu_percent: float | None = 30.0,
    seed: int = 0,
) -> list[IntervalPoint]:
    """Per-second points for a step-load run; ramps between steps have intermediate users.

    During the first ``warmup_seconds`` of each step latency is three times higher (cold
    caches), so trimming it is observable.
    """
    rng = np.random.default_rng(seed)
    points: list[IntervalPoint] = []
    t = 0
    previous = 0
    for users in levels:
        for i in range(1, ramp_seconds + 1):
            ramp_users = previous + (users - previous) * i // (ramp_seconds + 1)
            points.append(
                _second(rng, t, ramp_users, service_ms, think_s, servers, 1.0, latency_sigma, cpu_percent)
            )
            t += 1
        for i in range(step_seconds):
            slow = 3.0 if i < warmup_seconds else 1.0
            points.append(
                _second(rng, t, users, service_ms, think_s, servers, slow, latency_sigma, cpu_percent)
            )
            t += 1
        previous = users
    return points


def _second(
    rng: np.random.Generator,
    t: int,
    users: int,
    service_ms: float,
    think_s: float,
    servers: int,
    slow: float,
    sigma: float,
    cpu_percent: float | None,
) -> IntervalPoint:
    if users <= 0:
        return IntervalPoint(
            t=t, users=0, requests=0, failures=0, histogram=Histogram(), cpu_percent=cpu_percent
        )
    x, r_ms = steady_latency(users, service_ms=service_ms, think_s=think_s, servers=servers)
    requests = int(rng.poisson(x))
    histogram = Histogram()
    # Log-normal with the requested mean: mu = ln(mean) − σ²/2.
    mu = np.log(r_ms * slow) - sigma**2 / 2.0
    for value in rng.lognormal(mu, sigma, requests):
        histogram.record_ms(float(value))
    return IntervalPoint(
        t=t, users=users, requests=requests, failures=0, histogram=histogram, cpu_percent=cpu_percent
    )
