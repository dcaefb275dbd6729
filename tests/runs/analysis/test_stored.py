"""The stored analysis format (runs.core.analysis.stored) and verdicts on stored block means."""

from __future__ import annotations

import math

import numpy as np
import pytest

from runs.core.analysis import compare_samples
from runs.core.analysis.bottleneck import rank_bottlenecks
from runs.core.analysis.capacity import knee_from_steps
from runs.core.analysis.steps import IntervalPoint, aggregate_steps
from runs.core.analysis.stored import (
    CapacityAnalysis,
    block_series,
    block_users,
    capacity_from_data,
    capacity_to_data,
)
from runs.core.analysis.validity import check_validity
from runs.core.histogram import Histogram


def _points() -> list[IntervalPoint]:
    out = []
    for i, users in enumerate((2, 4, 6)):
        for s in range(30):
            h = Histogram()
            for v in (10.0 * users, 11.0 * users, 30.0 * users):
                h.record_ms(v)
            out.append(IntervalPoint(t=30 * i + s, users=users, requests=3, failures=0, histogram=h))
    return out


def test_a_capacity_analysis_round_trips_through_json_including_non_finite_floats() -> None:
    steps = aggregate_steps(_points(), bootstrap_resamples=50)
    capacity = CapacityAnalysis(
        kind="staircase",
        closed_model=True,
        show_capacity=True,
        steps=steps,
        knee=knee_from_steps(steps),
        usl=None,
        usl_note="The USL fit failed: x",
        think_time_s=0.0,
        endpoint_steps={"GET /": steps},
        bottlenecks=rank_bottlenecks({"GET /": steps, "GET /b": steps}),
        warnings=check_validity(steps),
    )
    import json

    data = json.loads(json.dumps(capacity_to_data(capacity), allow_nan=False))
    back = capacity_from_data(data)
    assert [s.p95_ms for s in back.steps] == [s.p95_ms for s in steps]
    assert back.steps[0].throughput_ci == steps[0].throughput_ci and back.steps[0].rates == ()
    assert back.knee == capacity.knee
    assert back.bottlenecks == capacity.bottlenecks
    assert back.warnings == capacity.warnings
    growth = [w for w in back.warnings if w.code == "coordinated_omission"][0].detail["p95_growth_over_run"]
    assert math.isfinite(growth)
    nan_data = capacity_to_data(
        CapacityAnalysis(
            kind="",
            closed_model=True,
            show_capacity=False,
            steps=[],
            knee=None,
            usl=None,
            usl_note="",
            think_time_s=math.inf,
        )
    )
    assert nan_data["think_time_s"] == "Infinity" and capacity_from_data(nan_data).think_time_s == math.inf


def test_block_series_stays_inside_each_window_and_drops_the_leading_remainder() -> None:
    values: dict[int, float | None] = {t: float(t) for t in range(100)}
    values[97] = None  # a second without requests
    windows = [(2, 3, 14), (4, 20, 39), (6, 95, 99)]  # 12 s, 20 s, 5 s
    blocks = block_series(windows, values, seconds=5)
    assert block_users(windows, seconds=5) == [2, 2, 4, 4, 4, 4, 6]
    assert blocks[:2] == [7.0, 12.0]  # t 5-9 and 10-14; 3-4 dropped
    assert blocks[2:6] == [22.0, 27.0, 32.0, 37.0]
    assert blocks[6] == (95 + 96 + 98 + 99) / 4
    assert block_series([(1, 0, 4)], {}, seconds=5) == [None]


def test_a_verdict_on_5_s_block_means_equals_the_verdict_on_seconds() -> None:
    rng = np.random.default_rng(0)
    base = 100 + rng.standard_normal(600)
    cand = 110 + rng.standard_normal(600)
    per_second = compare_samples(base, cand, block_seconds=20)
    blocked = compare_samples(
        base.reshape(-1, 5).mean(axis=1), cand.reshape(-1, 5).mean(axis=1), block_seconds=20, sample_seconds=5
    )
    assert blocked.block_seconds == 20 and blocked.baseline_blocks == per_second.baseline_blocks == 30
    assert blocked.p_value == per_second.p_value
    assert blocked.hl_shift == pytest.approx(per_second.hl_shift, rel=1e-12)
    assert blocked.verdict == per_second.verdict == "slower"


def test_stored_verdicts_round_trip_through_json() -> None:
    import json

    from runs.core.analysis.compare import compare_endpoints
    from runs.core.analysis.stored import verdicts_from_data, verdicts_to_data

    rng = np.random.default_rng(12)
    base = {
        "overall": rng.lognormal(4, 0.2, 300),
        "a": rng.lognormal(4, 0.2, 300),
        "short": rng.lognormal(4, 0.2, 8),
        "holes": np.full(300, np.nan),
    }
    cand = {
        "overall": rng.lognormal(4.2, 0.2, 300),
        "a": rng.lognormal(4, 0.2, 300),
        "short": rng.lognormal(4, 0.2, 8),
        "holes": rng.lognormal(4, 0.2, 300),
    }
    verdicts = compare_endpoints(base, cand, block_seconds=10)
    assert {v.verdict for v in verdicts.values()} >= {"slower", "insufficient data"}
    data = json.loads(json.dumps(verdicts_to_data(verdicts), allow_nan=False))
    back = verdicts_from_data(data)
    assert list(back) == list(verdicts)
    for name, v in verdicts.items():
        assert back[name].summary == v.summary
        for f in v.__dataclass_fields__:
            a, b = getattr(back[name], f), getattr(v, f)
            assert a == b or (a != a and b != b), (name, f)
