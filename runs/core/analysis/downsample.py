"""Downsampling that keeps peaks, for charts of long per-second series.

Averaging or taking every n-th point hides the one-second spike that a latency chart exists
to show. Min/max bucketing keeps, for each of ``max_points // 2`` equal-width index buckets,
the point with the smallest and the point with the largest y, in x order, so the drawn
envelope is the envelope of the full series.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["downsample_minmax"]


def downsample_minmax(
    xs: Sequence[float] | np.ndarray,
    ys: Sequence[float] | np.ndarray,
    max_points: int,
) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points that keep every bucket's minimum and maximum.

    Points with a NaN y (no data that second) are left out before bucketing. Series that
    already fit are returned unchanged (as arrays).
    """
    x = np.asarray(xs)
    y = np.asarray(ys, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("xs and ys must be 1-D and of the same length")
    if max_points < 2:
        raise ValueError("max_points must be at least 2")
    keep = ~np.isnan(y)
    x, y = x[keep], y[keep]
    n = len(y)
    if n <= max_points:
        return x.copy(), y.copy()

    buckets = max_points // 2
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    bucket_of = np.repeat(np.arange(buckets), np.diff(edges))
    # Sorted by bucket, then by y: each bucket's first entry is its min, its last its max.
    order = np.lexsort((y, bucket_of))
    lows = order[edges[:-1]]
    highs = order[edges[1:] - 1]
    picked = np.unique(np.concatenate([lows, highs]))  # sorted indices = x order
    return x[picked], y[picked]
