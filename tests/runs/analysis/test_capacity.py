"""The knee from the operational laws, the step where throughput stops growing, the headline."""

from __future__ import annotations

from typing import Any

import pytest

from runs.core import profiles
from runs.core.analysis.capacity import knee_from_laws, knee_from_steps
from runs.core.analysis.planned import aggregate_plan_steps, plan_steps, planned_levels
from tests.runs.analysis.synthetic import closed_model_run, steady_latency

# The target: a fixed pool of slots topping out near 480 req/s, R₀ ≈ 21.6 ms.
USERS = [2, 5, 8, 11, 14, 17]
RPS = [93.0, 228.0, 359.0, 480.0, 463.0, 460.0]


def test_coarse_steps_put_the_knee_where_the_laws_say_not_a_step_late() -> None:
    result = knee_from_laws(USERS, RPS, [1000.0 * n / x for n, x in zip(USERS, RPS, strict=True)])
    assert result.status == "knee"
    assert result.knee_users == pytest.approx(480 * 2 / 93, abs=0.05)  # 10.3: truth ~10-11
    assert result.saturated_users == 11  # the step where throughput stops growing
    assert result.max_throughput_rps == 480.0
    assert result.headline == "Tops out at 480 req/s; beyond ~10 users extra users only add latency."
    assert result.evidence[0].startswith("knee at 10 users by the operational laws: N* = X_max × (R₀ + Z)")
    assert result.evidence[1].startswith("throughput stops growing at 11 users")


@pytest.mark.parametrize(
    ("servers", "service_ms", "think_s"), [(4, 50.0, 1.0), (10, 20.0, 0.0), (8, 50.0, 0.25)]
)
def test_the_knee_matches_the_asymptotic_bounds_of_a_closed_system(
    servers: int, service_ms: float, think_s: float
) -> None:
    truth = servers * (service_ms / 1000 + think_s) / (service_ms / 1000)
    users = [round(truth * f) for f in (0.2, 0.45, 0.7, 0.95, 1.2, 1.45, 1.7)]
    pairs = [steady_latency(n, service_ms=service_ms, think_s=think_s, servers=servers) for n in users]
    result = knee_from_laws(users, [x for x, _ in pairs], [r for _, r in pairs], think_time_s=think_s)
    assert result.status == "knee"
    assert result.knee_users == pytest.approx(truth, rel=0.01)
    assert all(abs(c.deviation) < 1e-9 for c in result.littles_law)


def test_an_8_second_staircase_of_simulated_seconds_gives_a_knee_within_15_percent() -> None:
    model: dict[str, Any] = {"service_ms": 20.0, "think_s": 0.0, "servers": 10}  # N* = 10
    plan = profiles.build_plan(
        "staircase", {"start_users": 2, "step_users": 2, "step_duration": 8, "steps": 10, "spawn_rate": None}
    )
    points = closed_model_run(list(range(2, 21, 2)), step_seconds=8, ramp_seconds=0, seed=11, **model)
    steps = aggregate_plan_steps(plan_steps(points, planned_levels(plan))[0], bootstrap_resamples=50)
    result = knee_from_steps(steps, think_time_s=0.0)
    assert result.status == "knee"
    assert result.knee_users == pytest.approx(10, rel=0.15)
    assert result.max_throughput_rps == pytest.approx(500, rel=0.05)
    assert result.headline.startswith("Tops out at 5")
    assert (
        "Low confidence: every load step is short or incomplete (only 6 s of steady load" in result.headline
    )


def test_throughput_still_growing_at_the_last_step_is_no_knee() -> None:
    result = knee_from_laws([5, 10, 20, 40], [50.0, 100.0, 200.0, 400.0], [100.0] * 4)
    assert result.status == "no_knee" and result.knee_users is None
    assert result.headline.startswith("Reached 400 req/s at 40 users and still growing: no knee")
    assert result.evidence[0].startswith("no knee up to 40 users")


def test_flat_throughput_with_flat_latency_is_not_the_targets_knee() -> None:
    result = knee_from_laws([10, 20, 40], [100.0, 110.0, 112.0], [50.0, 51.0, 52.0])
    assert result.status == "no_knee"
    assert "latency did not rise" in result.headline and "load generator" in result.headline


def test_a_staircase_that_starts_saturated_says_the_knee_is_lower() -> None:
    result = knee_from_laws([20, 30, 40], [480.0, 481.0, 479.0], [41.7, 62.4, 83.5])
    assert result.status == "knee" and result.saturated_users == 20
    assert "already at 20 users, the lowest step" in result.headline


@pytest.mark.parametrize("n", [0, 1, 2])
def test_too_few_steps_say_so_in_the_headline(n: int) -> None:
    result = knee_from_laws(USERS[:n], RPS[:n], [20.0] * n)
    assert result.status == "insufficient_data" and result.knee_users is None
    if n:
        assert "too few to find where it tops out (plan at least 3)" in result.headline
    else:
        assert result.headline == "No load step with throughput to analyse."


def test_a_noisy_step_below_the_maximum_does_not_hide_a_saturated_run() -> None:
    # Measured on a busy machine (demo target, 10 slots × 20 ms, 8 s steps): the 12-user step
    # fell 9 % short of the maximum, reached only at the last step. The bounds put the knee at
    # 485 req/s × 21.5 ms = 10.4 users and the run went far past it.
    users = [3, 6, 9, 12, 15, 18]
    result = knee_from_laws(
        users, [139.5, 240.5, 358.7, 443.5, 435.7, 484.7], [21.4, 24.8, 24.7, 26.8, 34.0, 36.9]
    )
    assert result.status == "knee"
    assert result.knee_users == pytest.approx(10.4, abs=0.05)
    assert result.saturated_users == 12  # the first step past N*
    assert result.headline == "Tops out at 485 req/s; beyond ~10 users extra users only add latency."
