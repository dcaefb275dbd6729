from __future__ import annotations

import numpy as np
import pytest

from runs.core.analysis.downsample import downsample_minmax


def _series(n: int = 3600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return np.arange(n), rng.lognormal(4.0, 0.3, n)


def test_it_keeps_every_buckets_min_and_max_within_the_point_budget():
    xs, ys = _series()
    out_x, out_y = downsample_minmax(xs, ys, 500)
    assert len(out_x) <= 500
    edges = np.linspace(0, len(ys), 250 + 1).astype(int)
    kept = set(out_x.tolist())
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        bucket = ys[lo:hi]
        assert lo + int(bucket.argmin()) in kept
        assert lo + int(bucket.argmax()) in kept


def test_a_one_second_spike_survives():
    xs, ys = _series()
    ys[1234] = 10_000.0
    ys[2000] = 0.1
    out_x, out_y = downsample_minmax(xs, ys, 100)
    assert out_y.max() == 10_000.0 and 1234 in out_x
    assert out_y.min() == 0.1 and 2000 in out_x


def test_output_is_in_x_order_and_pairs_stay_together():
    xs, ys = _series(seed=1)
    out_x, out_y = downsample_minmax(xs, ys, 300)
    assert np.all(np.diff(out_x) > 0)
    assert np.array_equal(out_y, ys[out_x])


def test_short_series_come_back_unchanged():
    xs, ys = np.arange(10), np.arange(10.0) ** 2
    out_x, out_y = downsample_minmax(xs, ys, 10)
    assert np.array_equal(out_x, xs) and np.array_equal(out_y, ys)


def test_gaps_are_dropped_before_bucketing():
    xs, ys = _series(n=1000)
    ys[::3] = np.nan
    out_x, out_y = downsample_minmax(xs, ys, 100)
    assert not np.isnan(out_y).any()
    assert np.nanmax(ys) == out_y.max()


def test_ten_hour_long_series_downsample_quickly():
    import time

    series = [_series(seed=s) for s in range(10)]
    start = time.perf_counter()
    for xs, ys in series:
        downsample_minmax(xs, ys, 1000)
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("max_points", [0, 1])
def test_it_needs_room_for_a_min_and_a_max(max_points):
    with pytest.raises(ValueError):
        downsample_minmax([1, 2, 3], [1.0, 2.0, 3.0], max_points)


def test_it_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        downsample_minmax([1, 2, 3], [1.0, 2.0], 10)
