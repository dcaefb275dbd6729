"""runs.core.profiles: stages and planned users per kind, validation messages, the Locust shape."""

from __future__ import annotations

import pytest

from runs.core import profiles
from runs.core.profiles import Stage, build_plan, shape_tick, users_at, validate_profile


def _plan(kind: str, params: dict) -> profiles.Plan:
    return build_plan(kind, validate_profile(kind, params))


def test_constant_holds_the_users_for_the_duration() -> None:
    plan = _plan("constant", {"users": 10, "duration": 60})
    assert plan.stages == (Stage(60, 10, None),)
    assert (plan.duration, plan.peak_users) == (60, 10)
    assert users_at(plan, 0) == 10
    assert users_at(plan, 59.9) == 10
    assert users_at(plan, 60) is None


def test_constant_with_a_spawn_rate_ramps_up_first() -> None:
    plan = _plan("constant", {"users": 10, "duration": 60, "spawn_rate": 2})
    assert users_at(plan, 0) == 0
    assert users_at(plan, 2.5) == 5
    assert users_at(plan, 30) == 10


def test_ramp_moves_linearly_then_holds() -> None:
    plan = _plan("ramp", {"from_users": 0, "to_users": 100, "duration": 50, "hold": 10})
    assert plan.start_users == 0
    assert plan.stages == (Stage(50, 100, 2.0), Stage(10, 100, None))
    assert users_at(plan, 25) == 50
    assert users_at(plan, 55) == 100
    assert plan.duration == 60


def test_ramp_down_works_too() -> None:
    plan = _plan("ramp", {"from_users": 40, "to_users": 0, "duration": 20})
    assert users_at(plan, 0) == 40
    assert users_at(plan, 10) == 20


def test_staircase_adds_a_step_per_period() -> None:
    plan = _plan("staircase", {"start_users": 10, "step_users": 5, "step_duration": 30, "steps": 3})
    assert [s.users for s in plan.stages] == [10, 15, 20]
    assert [users_at(plan, t) for t in (0, 29, 30, 61, 89)] == [10, 10, 15, 20, 20]
    assert plan.duration == 90
    assert profiles.stage_index_at(plan, 45) == 1


def test_spike_rises_to_the_peak_and_comes_back() -> None:
    plan = _plan(
        "spike", {"base_users": 5, "peak_users": 50, "spike_at": 10, "spike_duration": 5, "duration": 30}
    )
    assert [(s.duration, s.users) for s in plan.stages] == [(10, 5), (5, 50), (15, 5)]
    assert [users_at(plan, t) for t in (0, 9, 10, 14, 15, 29)] == [5, 5, 50, 50, 5, 5]


def test_custom_stages_follow_the_list() -> None:
    plan = _plan(
        "stages", {"stages": [{"duration": 10, "users": 3}, {"duration": 5, "users": 8, "spawn_rate": 1}]}
    )
    assert plan.stages == (Stage(10, 3, None), Stage(5, 8, 1.0))
    assert users_at(plan, 12) == 5
    assert users_at(plan, 15) is None


@pytest.mark.parametrize(
    ("kind", "params", "field", "message"),
    [
        ("constant", {"users": -1, "duration": 10}, "users", "Must be at least 1."),
        ("constant", {"users": 5, "duration": 0}, "duration", "Must be greater than zero."),
        ("constant", {"users": 5}, "duration", "Duration (s) is required."),
        ("constant", {"users": "many", "duration": 5}, "users", "Users must be a number."),
        ("constant", {"users": 2.5, "duration": 5}, "users", "Users must be a whole number."),
        ("constant", {"users": 6000, "duration": 5}, "users", "Must be at most 5000 users."),
        (
            "constant",
            {"users": 5, "duration": 5, "spawn_rate": -1},
            "spawn_rate",
            "Must be greater than zero.",
        ),
        (
            "ramp",
            {"from_users": 5, "to_users": 5, "duration": 10},
            "to_users",
            "A ramp must change the user count; use a constant profile.",
        ),
        (
            "ramp",
            {"from_users": 0, "to_users": 5, "duration": 10, "hold": -1},
            "hold",
            "Must not be negative.",
        ),
        (
            "staircase",
            {"start_users": 0, "step_users": 0, "step_duration": 5, "steps": 2},
            "step_users",
            "Must be at least 1.",
        ),
        (
            "spike",
            {"base_users": 10, "peak_users": 5, "spike_at": 0, "spike_duration": 5, "duration": 10},
            "peak_users",
            "The peak must be above the base.",
        ),
        (
            "spike",
            {"base_users": 1, "peak_users": 5, "spike_at": 8, "spike_duration": 5, "duration": 10},
            "spike_duration",
            "The spike must end before the total duration.",
        ),
        (
            "stages",
            {"stages": []},
            "stages",
            "Give at least one stage as a list of {duration, users, spawn_rate}.",
        ),
        (
            "stages",
            {"stages": [{"duration": 0, "users": 1}]},
            "stages",
            "Stage 1: duration must be greater than zero.",
        ),
        (
            "stages",
            {"stages": [{"duration": 5, "users": -2}]},
            "stages",
            "Stage 1: users must be between 0 and 5000.",
        ),
        (
            "warp",
            {},
            "kind",
            "Unknown profile kind 'warp'; "
            "choose one of constant, ramp, staircase, spike, stages, arrival_constant, arrival_ramp, "
            "search_users, search_rate.",
        ),
    ],
)
def test_invalid_parameters_get_a_message_per_field(
    kind: str, params: dict, field: str, message: str
) -> None:
    with pytest.raises(profiles.ProfileError) as info:
        validate_profile(kind, params)
    assert info.value.errors[field] == message


def test_a_profile_longer_than_the_maximum_is_refused() -> None:
    with pytest.raises(profiles.ProfileError) as info:
        validate_profile("constant", {"users": 1, "duration": 100}, max_seconds=60)
    assert info.value.errors == {"duration": "The profile lasts 100 s; the maximum is 60 s."}


def test_shape_tick_follows_the_plan_and_ends_with_none() -> None:
    plan = _plan("staircase", {"start_users": 2, "step_users": 2, "step_duration": 3, "steps": 2})
    ticks = [shape_tick(plan, t / 2) for t in range(0, 14)]
    assert ticks[0] == (2, 2.0)
    assert ticks[6] == (4, 4.0)  # t = 3 s: the second step
    assert all(rate >= 1 for tick in ticks if tick for _, rate in [tick])
    assert ticks[-1] is None
    assert shape_tick(plan, plan.duration) is None
    assert shape_tick(plan, plan.duration - 0.01) is not None


def test_preview_starts_at_zero_and_ends_at_the_duration() -> None:
    plan = _plan("ramp", {"from_users": 0, "to_users": 10, "duration": 10})
    xs, ys = profiles.preview(plan)
    assert xs[0] == 0 and xs[-1] == 10
    assert ys[0] == 0 and ys[-1] == pytest.approx(10, abs=0.01)
