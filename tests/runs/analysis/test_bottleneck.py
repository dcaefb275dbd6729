from __future__ import annotations

from dataclasses import dataclass

import pytest

from runs.core.analysis.bottleneck import rank_bottlenecks
from runs.core.analysis.steps import aggregate_steps
from tests.runs.analysis.synthetic import closed_model_run

LOADS = [10, 20, 40, 80, 160]


@dataclass(frozen=True)
class Row:
    users: int
    p95_ms: float
    throughput_rps: float


def _endpoint(p95: list[float], rps: list[float]) -> list[Row]:
    return [Row(n, p, x) for n, p, x in zip(LOADS, p95, rps, strict=True)]


ENDPOINTS = {
    # Saturates at 40 users: latency rises there and keeps rising, throughput flattens.
    "/checkout": _endpoint([80, 82, 140, 400, 900], [10, 20, 35, 38, 39]),
    # Rises later but more steeply relative to its base.
    "/search": _endpoint([20, 20, 21, 45, 300], [30, 60, 120, 235, 300]),
    # Never degrades.
    "/static": _endpoint([5, 5, 5, 6, 6], [50, 100, 200, 400, 800]),
}


def test_the_endpoint_whose_latency_rises_first_ranks_first():
    report = rank_bottlenecks(ENDPOINTS)
    assert [e.endpoint for e in report.latency] == ["/checkout", "/search", "/static"]
    assert [e.rank for e in report.latency] == [1, 2, 3]
    checkout = report.latency[0]
    assert checkout.rise_users == 40
    assert checkout.base_p95_ms == 80 and checkout.max_p95_ms == 900
    assert checkout.p95_growth == pytest.approx(900 / 80)
    assert report.latency[2].rise_users is None
    assert "/checkout: p95 left its base 80.0 ms first, at 40 users" in report.evidence[0]


def test_equal_rise_points_are_ordered_by_growth():
    report = rank_bottlenecks(
        {
            "mild": _endpoint([10, 10, 16, 18, 20], [1, 2, 4, 8, 16]),
            "severe": _endpoint([10, 10, 16, 40, 90], [1, 2, 4, 8, 16]),
        }
    )
    assert [e.endpoint for e in report.latency] == ["severe", "mild"]


def test_the_endpoint_whose_throughput_flattens_first_ranks_first():
    report = rank_bottlenecks(ENDPOINTS)
    assert [e.endpoint for e in report.throughput] == ["/checkout", "/search", "/static"]
    checkout, search, static = report.throughput
    # /checkout: 1 req/s per user, then +15 req/s for +20 users = 75% at 40, 3/40 = 7.5% at 80.
    assert checkout.flatten_users == 80
    assert checkout.efficiency_at_max_load == pytest.approx((39 / 160) / 1.0)
    assert search.flatten_users == 160  # +65 for +80 users = 27% of 3 req/s per user
    assert static.flatten_users is None
    assert "/checkout: throughput flattened first, at 80 users" in report.evidence[1]


def test_threshold_parameters_change_what_counts_as_a_rise():
    loose = rank_bottlenecks(ENDPOINTS, latency_threshold=20.0)
    assert all(e.rise_users is None for e in loose.latency)
    assert "no endpoint's p95 rose more than 2000% above its base" in loose.evidence[0]


def test_endpoints_with_a_single_load_are_listed_as_not_ranked():
    report = rank_bottlenecks({**ENDPOINTS, "/rare": [Row(10, 5.0, 1.0)]})
    assert "/rare" not in {e.endpoint for e in report.latency}
    assert report.evidence[-1] == "not ranked (fewer than two loads): /rare"


def test_it_ranks_step_aggregates_from_simulated_runs():
    slow = aggregate_steps(closed_model_run([10, 40, 80, 160], servers=2, seed=1), seed=1)
    fast = aggregate_steps(closed_model_run([10, 40, 80, 160], servers=8, seed=2), seed=2)
    report = rank_bottlenecks({"/two-workers": slow, "/eight-workers": fast})
    assert report.latency[0].endpoint == "/two-workers"
    assert report.throughput[0].endpoint == "/two-workers"
