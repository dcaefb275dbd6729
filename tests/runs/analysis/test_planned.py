"""Steps from the plan: windows from the snapshot's stages, confirmed by the observed users."""

from __future__ import annotations

import pytest

from runs.core import profiles
from runs.core.analysis.planned import (
    aggregate_plan_steps,
    plan_steps,
    planned_levels,
    skipped_warnings,
    step_length_advice,
    warmup_seconds,
)
from runs.core.analysis.steps import IntervalPoint
from runs.core.histogram import Histogram
from tests.runs.analysis.synthetic import closed_model_run


def staircase(
    start: int, step: int, seconds: int, steps: int, spawn_rate: float | None = None
) -> profiles.Plan:
    params = {
        "start_users": start,
        "step_users": step,
        "step_duration": seconds,
        "steps": steps,
        "spawn_rate": spawn_rate,
    }
    return profiles.build_plan("staircase", profiles.validate_profile("staircase", params))


def point(t: int, users: int, requests: int = 50) -> IntervalPoint:
    h = Histogram()
    for _ in range(requests):
        h.record_ms(20.0)
    return IntervalPoint(t=t, users=users, requests=requests, failures=0, histogram=h)


def test_an_8_second_staircase_gives_every_planned_step_marked_low_confidence() -> None:
    levels = planned_levels(staircase(2, 2, 8, 10))
    assert [(lv.users, lv.start_s, lv.end_s) for lv in levels][:2] == [(2, 0, 8), (4, 8, 16)]
    points = closed_model_run([2 * k for k in range(1, 11)], step_seconds=8, ramp_seconds=0, seed=3)
    planned, notes, unconfirmed = plan_steps(points, levels)
    assert notes == [] and unconfirmed == 0
    steps = aggregate_plan_steps(planned, bootstrap_resamples=50)
    assert [s.users for s in steps] == [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]
    assert [(s.trimmed_s, s.duration_s, s.planned_s) for s in steps] == [(2, 6, 8)] * 10
    assert steps[3].start_t == 26 and steps[3].end_t == 31  # seconds 24–31 less 2 s warm-up
    assert all(s.low_confidence for s in steps)
    assert steps[0].note == "only 6 s of steady load (8 s step less 2 s of start-up and warm-up)"


def test_long_steps_are_not_low_confidence_and_keep_a_5_second_warm_up() -> None:
    points = closed_model_run([10, 20], step_seconds=30, ramp_seconds=0, seed=1)
    steps = aggregate_plan_steps(plan_steps(points, planned_levels(staircase(10, 10, 30, 2)))[0])
    assert [(s.trimmed_s, s.duration_s) for s in steps] == [(5, 25), (5, 25)]
    assert not any(s.low_confidence for s in steps)


@pytest.mark.parametrize(
    ("seconds", "trim"), [(1, 0), (2, 1), (3, 1), (5, 1), (8, 2), (12, 3), (25, 5), (600, 5)]
)
def test_the_warm_up_scales_with_the_step_and_never_takes_all_of_it(seconds: int, trim: int) -> None:
    assert warmup_seconds(seconds) == trim


def test_steps_of_3_seconds_are_analysed_and_shorter_ones_are_named() -> None:
    plan = profiles.build_plan(
        "stages",
        {"stages": [{"duration": 3, "users": 4}, {"duration": 2, "users": 8}, {"duration": 5, "users": 12}]},
    )
    points = [point(t, 4 if t < 3 else 8 if t < 5 else 12) for t in range(10)]
    planned, notes, _ = plan_steps(points, planned_levels(plan))
    assert [p.step.users for p in planned] == [4, 12]
    assert notes == [
        "The 2 s step at 8 users was not analysed: steps shorter than 3 s hold too little steady load."
    ]
    steps = aggregate_plan_steps(planned, bootstrap_resamples=20)
    assert [(s.trimmed_s, s.duration_s) for s in steps] == [(1, 2), (1, 4)]


def test_a_step_starts_when_its_planned_users_are_all_running() -> None:
    # A slow generator: the step's 20 users were all running from its third second on.
    users = [10] * 10 + [14, 18] + [20] * 8
    planned, _, _ = plan_steps(
        [point(t, u) for t, u in enumerate(users)], planned_levels(staircase(10, 10, 10, 2))
    )
    assert [(p.step.users, p.step.start_t, p.waited_s) for p in planned] == [(10, 0, 0), (20, 12, 2)]


def test_a_spawn_rate_ramp_is_not_part_of_the_step() -> None:
    # 10 → 20 users at 5 users/s: the plateau starts 2 s into the stage.
    levels = planned_levels(staircase(10, 10, 10, 2, spawn_rate=5))
    assert [(lv.users, lv.start_s) for lv in levels] == [(10, 2.0), (20, 12.0)]


def test_users_that_never_follow_the_plan_are_reported_not_confirmed() -> None:
    # A snapshot of 30 s steps over data of 12 s steps at other counts.
    users = [2] * 12 + [8] * 12 + [14] * 12
    planned, _, unconfirmed = plan_steps(
        [point(t, u) for t, u in enumerate(users)], planned_levels(staircase(2, 6, 30, 5))
    )
    assert planned == [] and unconfirmed == 2


def test_a_level_the_generator_never_reached_is_left_out_in_plain_words() -> None:
    users = [5] * 10 + [9] * 10
    planned, notes, unconfirmed = plan_steps(
        [point(t, u) for t, u in enumerate(users)], planned_levels(staircase(5, 5, 10, 2))
    )
    assert [p.step.users for p in planned] == [5] and unconfirmed == 1
    assert notes == [
        "The step at 10 users was not analysed: at most 9 of its 10 planned users were running "
        "(the generator could not start them all)."
    ]


def test_a_run_that_ended_early_marks_its_last_step() -> None:
    points = [point(t, 5 if t < 20 else 10) for t in range(26)]  # planned until 40
    steps = aggregate_plan_steps(
        plan_steps(points, planned_levels(staircase(5, 5, 20, 2)))[0], bootstrap_resamples=20
    )
    assert steps[-1].note.endswith("the run ended 14 s before this step's planned end")


def test_open_model_steps_are_the_constant_rate_segments() -> None:
    plan = profiles.build_plan(
        "arrival_ramp", {"from_rate": 1, "to_rate": 10, "duration": 20, "hold": 30, "max_in_flight": 50}
    )
    levels = planned_levels(plan)
    assert [(lv.rate, lv.start_s, lv.end_s) for lv in levels] == [(10.0, 20.0, 50.0)]
    points = [point(t, 3 + t % 2, requests=10) for t in range(50)]
    planned, _, _ = plan_steps(points, levels, closed_model=False)
    steps = aggregate_plan_steps(planned, bootstrap_resamples=20)
    assert len(steps) == 1 and steps[0].planned_rate == 10.0 and steps[0].start_t == 25


def test_warnings_say_what_is_low_confidence_in_plain_words() -> None:
    points = closed_model_run([2, 4], step_seconds=8, ramp_seconds=0, seed=3)
    steps = aggregate_plan_steps(
        plan_steps(points, planned_levels(staircase(2, 2, 8, 2)))[0], bootstrap_resamples=20
    )
    (warning,) = skipped_warnings(steps, [])
    assert warning.message == (
        "The steps at 2, 4 users are low confidence: only 6 s of steady load (8 s step less 2 s of "
        "start-up and warm-up). Steps of at least 15 s give a trustworthy knee and comparison."
    )


def test_the_profile_advice_names_the_length_that_would_do() -> None:
    assert step_length_advice([8.0] * 10).startswith("The load steps last 8 s, which leaves about 6 s")
    assert "at least 15 s" in step_length_advice([8.0] * 10)
    assert step_length_advice([2.0, 30.0]).startswith("1 of 2 load steps lasts under 3 s: steps that short")
    assert step_length_advice([10.0]).startswith("The load step lasts 10 s, which leaves about 8 s")
    assert step_length_advice([15.0, 60.0]) == step_length_advice([]) == ""
