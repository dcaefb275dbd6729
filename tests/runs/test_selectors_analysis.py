"""The comparison's pure helpers in runs.selectors.analysis (no database)."""

from __future__ import annotations

import numpy as np

from runs.selectors.analysis import level_medians, paired_series, verdicts


def _blocks(rng: np.random.Generator, levels: list[int], per_level: int, scale: float = 1.0):
    users = np.repeat(np.asarray(levels, dtype=np.int64), per_level)
    values = rng.lognormal(np.log(50 + users), 0.1) * scale
    values[rng.random(values.size) < 0.05] = np.nan
    return users, values


def _paired_series_before(reference, candidate):
    """paired_series as it was before the reference medians could be passed in."""
    (ref_users, ref_values), (cand_users, cand_values) = reference, candidate
    medians = {}
    for level in np.intersect1d(ref_users, cand_users):
        values = ref_values[ref_users == level]
        finite = values[np.isfinite(values)]
        median = float(np.median(finite)) if finite.size else 0.0
        if median > 0:
            medians[int(level)] = median
    if not medians:
        return ref_values, cand_values
    levels = np.fromiter(medians, dtype=np.int64)
    scale = np.fromiter(medians.values(), dtype=float)

    def normalised(users, values):
        at = np.clip(np.searchsorted(levels, users), 0, len(levels) - 1)
        keep = levels[at] == users
        return values[keep] / scale[at][keep]

    return normalised(ref_users, ref_values), normalised(cand_users, cand_values)


def test_paired_series_with_cached_reference_medians_is_unchanged():
    rng = np.random.default_rng(5)
    ref = _blocks(rng, [20, 40, 60, 80], 30)
    for levels in ([20, 40, 60, 80], [40, 80, 100], [100, 120], [], [60]):
        cand = _blocks(rng, levels, 25, scale=1.1)
        want = _paired_series_before(ref, cand)
        for got in (
            paired_series(ref, cand),
            paired_series(ref, cand, reference_medians=level_medians(*ref)),
        ):
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])


def test_verdicts_share_the_reference_medians_across_candidates() -> None:
    rng = np.random.default_rng(6)
    users = np.repeat(np.arange(20, 140, 20), 24)
    series = {n: rng.lognormal(np.log(50 + users), 0.1) for n in ("overall", "a", "b")}
    ref = (users, series)
    cache: dict = {}
    for k in range(3):
        cand = (users, {n: v * (1 + 0.1 * k) + rng.normal(0, 1, v.size) for n, v in series.items()})
        assert verdicts(ref, cand, sample_seconds=5, reference_medians=cache) == verdicts(
            ref, cand, sample_seconds=5
        )
    assert set(cache) == {"overall", "a", "b"}
