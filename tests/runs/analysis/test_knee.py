from __future__ import annotations

from typing import Any

import pytest

from runs.core.analysis.knee import find_knee, find_knee_from_steps
from runs.core.analysis.steps import aggregate_steps
from tests.runs.analysis.synthetic import closed_model_run, steady_latency

# Four workers at 50 ms with 1 s think time saturate at 80 req/s, from N* = 4·1.05/0.05 = 84.
MODEL: dict[str, Any] = {"service_ms": 50.0, "think_s": 1.0, "servers": 4}


def _curve(levels: list[int]) -> tuple[list[int], list[float], list[float]]:
    pairs = [steady_latency(n, **MODEL) for n in levels]
    return levels, [x for x, _ in pairs], [r for _, r in pairs]


def test_it_finds_the_knee_of_a_saturating_closed_system():
    users, x, r = _curve([10, 20, 40, 80, 120, 160])
    result = find_knee(users, x, r, think_time_s=1.0)
    assert result.status == "knee"
    assert result.knee_users == 80 and result.saturated_users == 120
    assert result.max_throughput_rps == pytest.approx(80.0)
    assert "knee at 80 users" in result.evidence[0]
    assert "80→120 users" in result.evidence[0]


def test_it_finds_the_knee_in_simulated_per_second_data():
    steps = aggregate_steps(closed_model_run([10, 20, 40, 80, 120, 160], seed=5, **MODEL))
    result = find_knee_from_steps(steps, think_time_s=1.0)
    assert result.status == "knee"
    assert result.knee_users == 80
    assert result.max_throughput_rps == pytest.approx(80.0, rel=0.05)
    # Little's law holds for a consistent closed system: N = X·(R + Z) within noise.
    assert all(abs(c.deviation) < 0.1 for c in result.littles_law)
    assert not any("Little's law" in e for e in result.evidence)


def test_linear_scaling_throughout_is_reported_as_no_knee():
    users, x, r = _curve([5, 10, 20, 40])
    result = find_knee(users, x, r, think_time_s=1.0)
    assert result.status == "no_knee"
    assert result.knee_users is None and result.saturated_users is None
    assert result.max_throughput_users == 40
    assert result.evidence[0].startswith("no knee up to 40 users")


def test_flat_throughput_without_latency_growth_is_not_a_knee():
    # Throughput stops growing but latency stays at base: the generator, not the target,
    # stopped adding load (e.g. users throttled by think time). Both criteria are needed.
    result = find_knee([10, 20, 40], [100.0, 110.0, 112.0], [50.0, 51.0, 52.0])
    assert result.status == "no_knee"
    assert any("within 50% of base" in e for e in result.evidence)


def test_latency_growth_while_throughput_still_scales_is_not_a_knee():
    result = find_knee([10, 20, 40], [100.0, 200.0, 400.0], [50.0, 90.0, 95.0])
    assert result.status == "no_knee"
    assert any("still gained 100% of initial slope" in e for e in result.evidence)


def test_thresholds_are_parameters():
    # Gains of 70% then 65% of the initial slope; latency +20% then +40% over base.
    users, x, r = [10, 20, 40], [100.0, 170.0, 300.0], [50.0, 60.0, 70.0]
    assert find_knee(users, x, r).status == "no_knee"
    strict = find_knee(users, x, r, gain_fraction=0.7, latency_threshold=0.1)
    assert strict.status == "knee"
    assert (strict.knee_users, strict.saturated_users) == (20, 40)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_too_few_steps_are_reported_not_guessed(n):
    users, x, r = _curve([10, 20][:n])
    result = find_knee(users, x, r)
    assert result.status == "insufficient_data"
    assert result.knee_users is None
    assert "need at least 3" in result.evidence[0]


def test_unsorted_and_repeated_loads_are_ordered_and_averaged():
    users, x, r = _curve([10, 20, 40, 80, 120, 160])
    shuffled = [3, 0, 5, 1, 4, 2]
    result = find_knee(
        [users[i] for i in shuffled] + [80],
        [x[i] for i in shuffled] + [x[3]],
        [r[i] for i in shuffled] + [r[3]],
    )
    assert result.knee_users == 80 and len(result.littles_law) == 6


def test_littles_law_deviation_names_the_step_and_the_think_time():
    users, x, r = _curve([10, 20, 40])
    result = find_knee(users, x, r, think_time_s=0.0)  # real think time is 1 s
    assert all(c.deviation == pytest.approx(-0.95, abs=0.01) for c in result.littles_law)
    assert any("Little's law off by -95% at 10 users" in e for e in result.evidence)
    correct = find_knee(users, x, r, think_time_s=1.0)
    assert all(c.deviation == pytest.approx(0.0, abs=1e-9) for c in correct.littles_law)
