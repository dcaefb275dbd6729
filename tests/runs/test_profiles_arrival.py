"""runs.core.profiles, open model: arrival-rate kinds, their rate, its integral and the start schedule."""

from __future__ import annotations

import math

import pytest

from runs.core import profiles
from runs.core.profiles import (
    RateStage,
    build_plan,
    is_open_model,
    iterations_until,
    rate_at,
    start_offsets,
    validate_profile,
)

RAMP = {"from_rate": 10, "to_rate": 50, "duration": 4, "hold": 2, "max_in_flight": 20}


def _plan(kind: str, params: dict) -> profiles.Plan:
    return build_plan(kind, validate_profile(kind, params))


def test_only_the_arrival_kinds_are_open_model() -> None:
    # The arrival-rate capacity search (search_rate) starts iterations per second too.
    assert [k for k in profiles.KINDS if is_open_model(k)] == [
        "arrival_constant",
        "arrival_ramp",
        "search_rate",
    ]
    assert profiles.preview_unit("arrival_ramp") == "iterations/s"
    assert profiles.preview_unit("ramp") == "users"


def test_constant_arrival_rate_holds_the_rate_and_caps_in_flight_work() -> None:
    plan = _plan("arrival_constant", {"rate": 40, "duration": 5, "max_in_flight": 8})
    assert plan.is_open
    assert plan.rates == (RateStage(5, 40.0, 40.0),)
    assert (plan.duration, plan.max_in_flight, plan.peak_users) == (5, 8, 8)
    assert [rate_at(plan, t) for t in (0, 2.5, 4.99)] == [40.0, 40.0, 40.0]
    assert rate_at(plan, 5) is None
    assert iterations_until(plan, 5) == 200
    assert iterations_until(plan, 99) == 200


def test_arrival_ramp_moves_the_rate_linearly_then_holds() -> None:
    plan = _plan("arrival_ramp", RAMP)
    assert plan.rates == (RateStage(4, 10.0, 50.0), RateStage(2, 50.0, 50.0))
    assert [rate_at(plan, t) for t in (0, 1, 2, 4, 5.5)] == [10.0, 20.0, 30.0, 50.0, 50.0]
    assert plan.duration == 6
    # ∫ = (10 + 50) / 2 · 4 + 50 · 2
    assert iterations_until(plan, 6) == pytest.approx(220)
    assert iterations_until(plan, 2) == pytest.approx(10 * 2 + 10 * 2 * 2 / 2)
    # A stage per rate segment, so the analysis can label steps of open-model runs too.
    assert profiles.stage_index_at(plan, 5) == 1


def test_rate_at_takes_validated_params_as_well_as_a_plan() -> None:
    params = validate_profile("arrival_ramp", {"to_rate": 30, "duration": 3, "max_in_flight": 5})
    assert params["from_rate"] == 0
    assert rate_at(params, 1.5, kind="arrival_ramp") == 15.0
    assert rate_at({"rate": 7, "duration": 2, "max_in_flight": 1}, 1) == 7.0
    with pytest.raises(ValueError, match="not an arrival-rate plan"):
        rate_at(_plan("constant", {"users": 1, "duration": 5}), 1)


def test_a_ramp_starts_exactly_its_integral_not_a_per_second_rounding() -> None:
    # 0 → 3 it/s over 5 s: rounding each second's planned rate (0.3, 0.9, 1.5, 2.1, 2.7 → 0+1+2+2+3
    # = 8) or truncating it (0+0+1+2+2 = 5) would both miss the 7.5 planned.
    plan = _plan("arrival_ramp", {"from_rate": 0, "to_rate": 3, "duration": 5, "max_in_flight": 5})
    offsets = list(start_offsets(plan))
    assert len(offsets) == math.ceil(iterations_until(plan, 5)) == 8
    # Iteration n starts where the integral reaches n: 0.3·t² = n.
    assert offsets == pytest.approx([math.sqrt(n / 0.3) for n in range(8)])
    assert all(a < b for a, b in zip(offsets, offsets[1:], strict=False))
    assert offsets[-1] < 5


def test_a_constant_rate_starts_evenly_spaced_iterations() -> None:
    offsets = list(start_offsets(_plan("arrival_constant", {"rate": 4, "duration": 2, "max_in_flight": 1})))
    assert offsets == pytest.approx([0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"from_rate": 5, "to_rate": 45, "duration": 10, "hold": 3, "max_in_flight": 1}, 250 + 135),
        ({"from_rate": 40, "to_rate": 0, "duration": 4, "max_in_flight": 1}, 80),
        ({"from_rate": 0.5, "to_rate": 2.5, "duration": 7, "max_in_flight": 1}, 10.5),
    ],
)
def test_the_schedule_counts_match_the_integral(params: dict, expected: float) -> None:
    plan = _plan("arrival_ramp", params)
    offsets = list(start_offsets(plan))
    assert iterations_until(plan, plan.duration) == pytest.approx(expected)
    assert len(offsets) == math.ceil(expected)
    # At every point, the iterations started so far are the integral rounded up.
    for t in (0.5, 1.7, plan.duration / 2, plan.duration - 0.01):
        assert sum(1 for o in offsets if o < t) == pytest.approx(math.ceil(iterations_until(plan, t)), abs=1)


def test_the_preview_draws_the_rate_in_iterations_per_second() -> None:
    plan = _plan("arrival_ramp", RAMP)
    assert profiles.preview(plan) == ([0.0, 4.0, 6.0], [10.0, 50.0, 50.0])
    constant = _plan("arrival_constant", {"rate": 40, "duration": 5, "max_in_flight": 8})
    assert profiles.preview(constant) == ([0.0, 5.0], [40.0, 40.0])


@pytest.mark.parametrize(
    ("kind", "params", "field", "message"),
    [
        ("arrival_constant", {"rate": 0, "duration": 5, "max_in_flight": 5}, "rate", "greater than zero"),
        ("arrival_constant", {"rate": -3, "duration": 5, "max_in_flight": 5}, "rate", "greater than zero"),
        ("arrival_constant", {"rate": 1e6, "duration": 5, "max_in_flight": 5}, "rate", "at most 10000"),
        ("arrival_constant", {"rate": "x", "duration": 5, "max_in_flight": 5}, "rate", "must be a number"),
        ("arrival_constant", {"rate": 5, "duration": 0, "max_in_flight": 5}, "duration", "greater than zero"),
        (
            "arrival_constant",
            {"rate": 5, "duration": 20_000, "max_in_flight": 5},
            "duration",
            "the maximum is",
        ),
        ("arrival_constant", {"rate": 5, "duration": 5, "max_in_flight": 0}, "max_in_flight", "At least 1"),
        (
            "arrival_constant",
            {"rate": 5, "duration": 5, "max_in_flight": 101},
            "max_in_flight",
            "at most 100",
        ),
        (
            "arrival_constant",
            {"rate": 5, "duration": 5, "max_in_flight": 2.5},
            "max_in_flight",
            "whole number",
        ),
        ("arrival_constant", {"rate": 5, "duration": 5}, "max_in_flight", "is required"),
        (
            "arrival_ramp",
            {"from_rate": -1, "to_rate": 5, "duration": 5, "max_in_flight": 5},
            "from_rate",
            "at least 0",
        ),
        (
            "arrival_ramp",
            {"from_rate": 5, "to_rate": 5, "duration": 5, "max_in_flight": 5},
            "to_rate",
            "must change the rate",
        ),
        (
            "arrival_ramp",
            {"from_rate": 0, "to_rate": 5, "duration": 5, "hold": -1, "max_in_flight": 5},
            "hold",
            "not be negative",
        ),
        (
            "arrival_ramp",
            {"to_rate": 5, "duration": 5, "max_in_flight": 5000},
            "max_in_flight",
            "at most 100",
        ),
    ],
)
def test_arrival_validation_explains_each_mistake(kind: str, params: dict, field: str, message: str) -> None:
    with pytest.raises(profiles.ProfileError) as exc:
        validate_profile(kind, params, max_users=100)
    assert message in exc.value.errors[field], exc.value.errors


def test_closed_model_kinds_are_unchanged() -> None:
    plan = _plan("ramp", {"from_users": 0, "to_users": 100, "duration": 50})
    assert not plan.is_open
    assert (plan.rates, plan.max_in_flight) == ((), None)
    assert profiles.preview(plan)[1][-1] == pytest.approx(100, abs=3)
