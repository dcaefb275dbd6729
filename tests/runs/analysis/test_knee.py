"""What the knee analysis shares (``runs.core.analysis.knee``): load levels averaged over
repeated visits, and Little's law checked at each level, as ``knee_from_steps`` reports them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from runs.core.analysis.capacity import knee_from_laws, knee_from_steps
from runs.core.analysis.knee import levels_averaged, littles_law_checks
from runs.core.analysis.steps import aggregate_steps
from tests.runs.analysis.synthetic import closed_model_run, steady_latency

# Four workers at 50 ms with 1 s think time saturate at 80 req/s, from N* = 4·1.05/0.05 = 84.
MODEL: dict[str, Any] = {"service_ms": 50.0, "think_s": 1.0, "servers": 4}


def _curve(levels: list[int]) -> tuple[list[int], list[float], list[float]]:
    pairs = [steady_latency(n, **MODEL) for n in levels]
    return levels, [x for x, _ in pairs], [r for _, r in pairs]


def test_the_knee_of_simulated_per_second_data_is_where_the_laws_put_it():
    steps = aggregate_steps(closed_model_run([10, 20, 40, 80, 120, 160], seed=5, **MODEL))
    result = knee_from_steps(steps, think_time_s=1.0)
    assert result.status == "knee"
    assert result.knee_users == pytest.approx(84.0, rel=0.15)
    assert result.max_throughput_rps == pytest.approx(80.0, rel=0.05)
    # Little's law holds for a consistent closed system: N = X·(R + Z) within noise.
    assert all(abs(c.deviation) < 0.1 for c in result.littles_law)
    assert not any("Little's law" in e for e in result.evidence)


def test_unsorted_and_repeated_loads_are_ordered_and_averaged():
    n, x, r = levels_averaged([40, 10, 20, 10], [400.0, 100.0, 200.0, 120.0], [50.0, 10.0, 20.0, 30.0])
    assert n.tolist() == [10.0, 20.0, 40.0]
    assert x.tolist() == [110.0, 200.0, 400.0] and r.tolist() == [20.0, 20.0, 50.0]
    with pytest.raises(ValueError, match="same length"):
        levels_averaged([1, 2], [1.0], [1.0, 2.0])


def test_a_staircase_visited_out_of_order_gives_the_same_knee():
    users, x, r = _curve([10, 20, 40, 80, 120, 160])
    ordered = knee_from_laws(users, x, r, think_time_s=1.0)
    shuffled = [3, 0, 5, 1, 4, 2]
    again = knee_from_laws(
        [users[i] for i in shuffled] + [80],
        [x[i] for i in shuffled] + [x[3]],
        [r[i] for i in shuffled] + [r[3]],
        think_time_s=1.0,
    )
    assert again.knee_users == ordered.knee_users and len(again.littles_law) == 6


def test_littles_law_deviation_names_the_step_and_the_think_time():
    users, x, r = _curve([10, 20, 40])
    checks = littles_law_checks(*(np.asarray(v, dtype=float) for v in (users, x, r)), 0.0)
    assert all(c.deviation == pytest.approx(-0.95, abs=0.01) for c in checks)  # real think time is 1 s
    result = knee_from_laws(users, x, r, think_time_s=0.0)
    assert any("Little's law off by -95% at 10 users" in e for e in result.evidence)
    correct = knee_from_laws(users, x, r, think_time_s=1.0)
    assert all(c.deviation == pytest.approx(0.0, abs=1e-9) for c in correct.littles_law)
