"""Which endpoint gives out first as load grows.

Latency: for each endpoint, the p95 at the lowest load is its base; the endpoint *rises* at
the first load where its p95 exceeds base · (1 + ``latency_threshold``). Endpoints are ranked
by that load (earliest first; never-rising endpoints last), then by how far p95 grew by the
highest load (most first).

Throughput: an endpoint *flattens* at the first load where its marginal gain per added user
falls below ``gain_fraction`` of its initial per-user rate (the knee criterion of
``runs.core.analysis.knee``), ranked likewise, then by the efficiency left at the highest load
(throughput per user relative to the initial per-user rate, lowest first). In a closed-model
run with a fixed task mix every endpoint's throughput is tied to the same users, so latency is
usually the sharper signal; throughput separates endpoints when they have their own limits
(rate limits, per-endpoint pools).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

__all__ = [
    "BottleneckReport",
    "EndpointLatencyRank",
    "EndpointThroughputRank",
    "rank_bottlenecks",
]


class StepLike(Protocol):
    """What ranking needs of a step; ``StepAggregate`` satisfies it."""

    @property
    def users(self) -> int: ...
    @property
    def p95_ms(self) -> float: ...
    @property
    def throughput_rps(self) -> float: ...


@dataclass(frozen=True)
class EndpointLatencyRank:
    endpoint: str
    rank: int
    base_p95_ms: float
    max_p95_ms: float
    p95_growth: float  # p95 at the highest load / base p95
    rise_users: float | None  # first load with p95 > base · (1 + threshold)


@dataclass(frozen=True)
class EndpointThroughputRank:
    endpoint: str
    rank: int
    initial_rps_per_user: float
    efficiency_at_max_load: float  # (X/N at highest load) / (X/N at lowest load)
    flatten_users: float | None  # first load where marginal gain < fraction · initial rate


@dataclass(frozen=True)
class BottleneckReport:
    latency: tuple[EndpointLatencyRank, ...]
    throughput: tuple[EndpointThroughputRank, ...]
    evidence: tuple[str, ...]


def rank_bottlenecks(
    steps_by_endpoint: Mapping[str, Sequence[StepLike]],
    *,
    latency_threshold: float = 0.5,
    gain_fraction: float = 0.5,
) -> BottleneckReport:
    """Rank endpoints by how early and how much they degrade; needs two loads per endpoint."""
    latency: list[EndpointLatencyRank] = []
    throughput: list[EndpointThroughputRank] = []
    skipped: list[str] = []
    for name, steps in steps_by_endpoint.items():
        # One value per load (averaging repeated visits), in order of increasing load.
        n, inverse = np.unique([s.users for s in steps], return_inverse=True)
        if len(n) < 2 or n[0] <= 0:
            skipped.append(name)
            continue
        visits = np.bincount(inverse)
        p95 = np.bincount(inverse, weights=[s.p95_ms for s in steps]) / visits
        x = np.bincount(inverse, weights=[s.throughput_rps for s in steps]) / visits
        latency.append(_latency_profile(name, n, p95, latency_threshold))
        if x[0] > 0:
            throughput.append(_throughput_profile(name, n, x, gain_fraction))

    latency.sort(key=lambda e: (_never_last(e.rise_users), -e.p95_growth))
    throughput.sort(key=lambda e: (_never_last(e.flatten_users), e.efficiency_at_max_load))
    latency = [replace(e, rank=i) for i, e in enumerate(latency, start=1)]
    throughput = [replace(e, rank=i) for i, e in enumerate(throughput, start=1)]

    evidence: list[str] = []
    if latency:
        first = latency[0]
        if first.rise_users is not None:
            evidence.append(
                f"{first.endpoint}: p95 left its base {first.base_p95_ms:.1f} ms first, at "
                f"{first.rise_users:g} users, and grew {first.p95_growth:.1f}× by the "
                "highest load"
            )
        else:
            evidence.append(f"no endpoint's p95 rose more than {latency_threshold:.0%} above its base")
    if throughput:
        first_t = throughput[0]
        if first_t.flatten_users is not None:
            evidence.append(
                f"{first_t.endpoint}: throughput flattened first, at "
                f"{first_t.flatten_users:g} users (efficiency "
                f"{first_t.efficiency_at_max_load:.0%} at the highest load)"
            )
        else:
            evidence.append("every endpoint's throughput kept scaling over the tested loads")
    if skipped:
        evidence.append(f"not ranked (fewer than two loads): {', '.join(sorted(skipped))}")
    return BottleneckReport(latency=tuple(latency), throughput=tuple(throughput), evidence=tuple(evidence))


def _latency_profile(name: str, n: np.ndarray, p95: np.ndarray, threshold: float) -> EndpointLatencyRank:
    base = float(p95[0])
    risen = np.flatnonzero(p95 > base * (1.0 + threshold))
    return EndpointLatencyRank(
        endpoint=name,
        rank=0,
        base_p95_ms=base,
        max_p95_ms=float(p95.max()),
        p95_growth=float(p95[-1] / base) if base > 0 else float("inf"),
        rise_users=float(n[risen[0]]) if risen.size else None,
    )


def _throughput_profile(name: str, n: np.ndarray, x: np.ndarray, fraction: float) -> EndpointThroughputRank:
    initial = x[0] / n[0]
    gains = np.diff(x) / np.diff(n) / initial
    flat = np.flatnonzero(gains < fraction)
    return EndpointThroughputRank(
        endpoint=name,
        rank=0,
        initial_rps_per_user=float(initial),
        efficiency_at_max_load=float((x[-1] / n[-1]) / initial),
        flatten_users=float(n[flat[0] + 1]) if flat.size else None,
    )


def _never_last(users: float | None) -> float:
    return float("inf") if users is None else users
