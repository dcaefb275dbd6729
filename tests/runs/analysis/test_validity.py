from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from runs.core.analysis.steps import StepAggregate, aggregate_steps
from runs.core.analysis.validity import check_validity
from tests.runs.analysis.synthetic import closed_model_run


@pytest.fixture(scope="module")
def clean_steps() -> list[StepAggregate]:
    """A healthy run: steady Poisson load, 30% generator CPU, no failures."""
    return aggregate_steps(closed_model_run([20, 40, 80], step_seconds=120, seed=3))


def _codes(warnings) -> list[str]:
    return [w.code for w in warnings]


def test_a_clean_open_model_run_has_no_warnings(clean_steps):
    assert check_validity(clean_steps, closed_model=False) == []


def test_a_clean_closed_model_run_only_carries_the_coordinated_omission_note(clean_steps):
    warnings = check_validity(clean_steps, closed_model=True, used_for_capacity=True)
    assert _codes(warnings) == ["coordinated_omission"]
    assert warnings[0].severity == "info"
    assert check_validity(clean_steps, closed_model=True, used_for_capacity=False) == []


def test_generator_cpu_above_the_limit_in_a_step_is_flagged(clean_steps):
    hot = [clean_steps[0], replace(clean_steps[1], cpu_max=97.0, cpu_mean=85.0), clean_steps[2]]
    warnings = check_validity(hot, closed_model=False)
    assert _codes(warnings) == ["generator_cpu"]
    assert warnings[0].detail["users"] == 40
    assert "97%" in warnings[0].message


def test_generator_cpu_above_the_limit_in_any_second_of_the_run_is_flagged(clean_steps):
    points = closed_model_run([20], step_seconds=30, cpu_percent=50.0, seed=1)
    points[7] = replace(points[7], cpu_percent=95.0)
    points[20] = replace(points[20], cpu_percent=99.0)
    warnings = check_validity(clean_steps, points=points, closed_model=False)
    assert _codes(warnings) == ["generator_cpu"]
    assert warnings[0].detail["seconds"] == [points[7].t, points[20].t]


def test_a_step_with_too_few_requests_is_flagged(clean_steps):
    small = replace(clean_steps[0], requests=150)
    warnings = check_validity([small, *clean_steps[1:]], closed_model=False)
    assert _codes(warnings) == ["too_few_requests"]
    assert warnings[0].detail == {"users": 20, "requests": 150}
    assert check_validity([small], closed_model=False, min_requests_per_step=100) == []


def test_a_step_with_a_high_error_rate_is_flagged(clean_steps):
    failing = replace(clean_steps[2], failures=300, error_rate=0.05)
    warnings = check_validity([*clean_steps[:2], failing], closed_model=False)
    assert _codes(warnings) == ["high_error_rate"]
    assert "5.0%" in warnings[0].message
    assert check_validity([failing], closed_model=False, max_error_rate=0.1) == []


def test_a_step_whose_throughput_still_climbs_is_not_steady(clean_steps):
    rng = np.random.default_rng(4)
    climbing = rng.poisson(np.linspace(60, 100, 115)).astype(float)
    step = replace(clean_steps[1], rates=tuple(climbing))
    warnings = check_validity([step], closed_model=False)
    assert _codes(warnings) == ["not_steady"]
    assert "drifted" in warnings[0].message
    assert warnings[0].detail["drift"] > 0.1


def test_a_step_whose_throughput_swings_beyond_counting_noise_is_not_steady(clean_steps):
    rng = np.random.default_rng(5)
    swinging = rng.poisson(np.where(np.arange(115) % 10 < 5, 40.0, 80.0)).astype(float)
    step = replace(clean_steps[1], rates=tuple(swinging))
    warnings = check_validity([step], closed_model=False)
    assert _codes(warnings) == ["not_steady"]
    assert "beyond counting noise" in warnings[0].message


def test_poisson_noise_at_low_rates_is_not_mistaken_for_instability(clean_steps):
    rng = np.random.default_rng(6)
    flagged = 0
    for _ in range(100):
        quiet = rng.poisson(5.0, 115).astype(float)  # raw CV ≈ 45%, all counting noise
        flagged += bool(check_validity([replace(clean_steps[0], rates=tuple(quiet))], closed_model=False))
    assert flagged <= 5


def test_a_run_without_steps_says_so():
    warnings = check_validity([])
    assert _codes(warnings) == ["no_steps"]
