"""Regression verdicts on synthetic per-second latency series.

The synthetic series imitate the per-second p95 of a steady-state step: mean 120 ms, 12%
coefficient of variation, AR(1) autocorrelation ρ = 0.6 (slow seconds cluster), 300 s per
run, all seeded. Rates are measured over 200 trials.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

from runs.core.analysis.compare import (
    _summary,
    _verdict,
    auto_block_seconds,
    compare_endpoints,
    compare_samples,
    hodges_lehmann,
)
from tests.runs.analysis.synthetic import ar1

TRIALS = 200
SECONDS = 300
PHI = 0.6
CV = 0.12
MEAN_MS = 120.0


def _run(rng: np.random.Generator, mean: float = MEAN_MS, seconds: int = SECONDS) -> np.ndarray:
    return ar1(rng, seconds, phi=PHI, mean=mean, cv=CV)


def test_a_a_comparisons_say_no_change_at_least_95_percent_of_the_time():
    rng = np.random.default_rng(2026)
    verdicts = [compare_samples(_run(rng), _run(rng)).verdict for _ in range(TRIALS)]
    assert verdicts.count("no significant change") / TRIALS >= 0.95


def test_a_ten_percent_slowdown_is_caught_at_least_95_percent_of_the_time():
    rng = np.random.default_rng(7)
    verdicts = [compare_samples(_run(rng), _run(rng, mean=1.10 * MEAN_MS)).verdict for _ in range(TRIALS)]
    assert verdicts.count("slower") / TRIALS >= 0.95
    assert "faster" not in verdicts


def test_a_ten_percent_speedup_reads_faster():
    rng = np.random.default_rng(8)
    result = compare_samples(_run(rng), _run(rng, mean=0.90 * MEAN_MS))
    assert result.verdict == "faster"
    assert result.hl_shift_relative == pytest.approx(-0.10, abs=0.04)


def test_blocking_keeps_p_values_calibrated_where_per_second_testing_does_not():
    """With the effect floor off, the verdict is the bare Mann–Whitney test at α = 0.05.

    Treating autocorrelated seconds as independent rejects a true null far more often than
    5%; the automatic blocks bring the rate back near the nominal level.
    """
    rng = np.random.default_rng(11)
    blocked = per_second = 0
    for _ in range(TRIALS):
        a, b = _run(rng), _run(rng)
        blocked += compare_samples(a, b, min_effect=0.0).verdict != "no significant change"
        per_second += (
            compare_samples(a, b, min_effect=0.0, block_seconds=1).verdict != "no significant change"
        )
    assert per_second / TRIALS > 0.20
    assert blocked / TRIALS <= 0.10


def test_a_significant_but_tiny_shift_is_not_a_regression():
    rng = np.random.default_rng(12)
    base = rng.normal(100.0, 1.0, 3600)  # long, quiet runs: 2% is highly significant
    cand = rng.normal(102.0, 1.0, 3600)
    result = compare_samples(base, cand, block_seconds=10)
    assert result.p_value < 1e-6
    assert result.verdict == "no significant change"
    assert compare_samples(base, cand, block_seconds=10, min_effect=0.01).verdict == "slower"


def test_it_reports_the_shift_with_a_confidence_interval_that_covers_the_truth():
    rng = np.random.default_rng(13)
    covered = 0
    for _ in range(100):
        result = compare_samples(_run(rng), _run(rng, mean=1.10 * MEAN_MS))
        low, high = result.hl_ci_relative
        covered += low < 0.10 < high
    assert covered >= 85  # nominal 95%; blocks leave a little residual autocorrelation


def test_higher_is_better_metrics_flip_the_direction():
    rng = np.random.default_rng(14)
    rps_base, rps_cand = _run(rng, mean=500.0), _run(rng, mean=400.0)
    assert compare_samples(rps_base, rps_cand, lower_is_better=False).verdict == "slower"
    assert compare_samples(rps_cand, rps_base, lower_is_better=False).verdict == "faster"


def test_short_series_are_insufficient_not_significant():
    result = compare_samples([100.0] * 8, [200.0] * 8, block_seconds=5)
    assert result.verdict == "insufficient data"
    assert result.p_value is None
    assert "need 3 each" in result.summary


def test_seconds_without_requests_are_ignored_within_their_block():
    rng = np.random.default_rng(15)
    base, cand = _run(rng), _run(rng, mean=1.2 * MEAN_MS)
    holed = cand.copy()
    holed[::7] = np.nan
    result = compare_samples(base, holed, block_seconds=10)
    assert result.verdict == "slower"
    assert result.candidate_blocks == SECONDS // 10


def test_auto_block_grows_with_autocorrelation():
    rng = np.random.default_rng(16)
    white = [rng.normal(100, 10, 600) for _ in range(2)]
    sticky = [ar1(rng, 600, phi=0.9, mean=100.0, cv=0.1) for _ in range(2)]
    assert auto_block_seconds(*white) == 5
    assert auto_block_seconds(*sticky) >= 40  # 3·(1 + 0.9)/(1 − 0.9) = 57 in theory
    assert auto_block_seconds(*[s[:60] for s in sticky]) == 10  # capped: 6 blocks per run


def test_hodges_lehmann_is_the_median_pairwise_difference():
    x = np.array([3.0, 5.0, 9.0])
    y = np.array([1.0, 2.0])
    estimate, _ = hodges_lehmann(x, y)
    assert estimate == float(np.median([2, 1, 4, 3, 8, 7]))


def test_endpoints_get_their_own_verdicts_with_fdr_adjusted_p_values():
    rng = np.random.default_rng(17)
    base = {"/": _run(rng), "/search": _run(rng), "/cart": _run(rng), "/only-in-base": _run(rng)}
    cand = {"/": _run(rng), "/search": _run(rng, mean=1.3 * MEAN_MS), "/cart": _run(rng)}
    results = compare_endpoints(base, cand)
    assert set(results) == {"/", "/search", "/cart"}
    assert results["/search"].verdict == "slower"
    assert results["/"].verdict == results["/cart"].verdict == "no significant change"
    for r in results.values():
        assert r.p_value_adjusted is not None and r.p_value_adjusted >= r.p_value
        assert "BH-adjusted" in r.summary


def test_fdr_adjustment_can_withdraw_a_marginal_verdict():
    rng = np.random.default_rng(18)
    marginal_base, marginal_cand = None, None
    for _ in range(500):  # find a pair significant alone, not after adjustment among 10
        a, b = _run(rng), _run(rng, mean=1.07 * MEAN_MS)
        single = compare_samples(a, b)
        if single.verdict == "slower" and 0.01 < single.p_value < 0.05:
            marginal_base, marginal_cand = a, b
            break
    assert marginal_base is not None
    base = {"marginal": marginal_base} | {f"e{i}": _run(rng) for i in range(9)}
    cand = {"marginal": marginal_cand} | {f"e{i}": _run(rng) for i in range(9)}
    assert compare_endpoints(base, cand)["marginal"].verdict == "no significant change"


# -- the vectorised compare_endpoints equals compare_samples endpoint by endpoint ---------------
def _assert_same(fast, slow) -> None:
    assert list(fast) == list(slow)
    for name in slow:
        f, s = fast[name], slow[name]
        for field in ("verdict", "block_seconds", "baseline_blocks", "candidate_blocks", "confidence"):
            assert getattr(f, field) == getattr(s, field), (name, field)
        for field in (
            "p_value",
            "p_value_adjusted",
            "baseline_median",
            "candidate_median",
            "median_shift_relative",
            "hl_shift",
            "hl_shift_relative",
        ):
            a, b = getattr(f, field), getattr(s, field)
            assert (a is None) == (b is None), (name, field)
            if a is not None:
                assert a == pytest.approx(b, rel=1e-12, abs=1e-15, nan_ok=True), (name, field)
        for field in ("hl_ci", "hl_ci_relative"):
            a, b = getattr(f, field), getattr(s, field)
            assert (a is None) == (b is None), (name, field)
            if a is not None:
                assert a == pytest.approx(b, rel=1e-12, abs=1e-15), (name, field)
        assert f.summary == s.summary, name


def compare_endpoints_each(
    baseline: dict,
    candidate: dict,
    *,
    block_seconds: int | None = None,
    sample_seconds: int = 1,
    alpha: float = 0.05,
    min_effect: float = 0.05,
    confidence: float = 0.95,
    lower_is_better: bool = True,
) -> dict:
    """The reference for ``compare_endpoints``: ``compare_samples`` endpoint by endpoint, then
    Benjamini–Hochberg, as the module did before it was vectorised (scipy's per-call overhead
    made it slow). The vectorised path must give the same results."""
    names = [name for name in baseline if name in candidate]
    results = {
        name: compare_samples(
            baseline[name],
            candidate[name],
            block_seconds=block_seconds,
            sample_seconds=sample_seconds,
            alpha=alpha,
            min_effect=min_effect,
            confidence=confidence,
            lower_is_better=lower_is_better,
        )
        for name in names
    }
    tested = [name for name in names if results[name].p_value is not None]
    if len(tested) < 2:
        return results
    adjusted = stats.false_discovery_control([results[n].p_value for n in tested], method="bh")
    for name, p_adj in zip(tested, adjusted, strict=True):
        old = results[name]
        verdict = _verdict(float(p_adj), old.hl_shift_relative, alpha, min_effect, lower_is_better)
        updated = dataclasses.replace(old, verdict=verdict, p_value_adjusted=float(p_adj))
        results[name] = dataclasses.replace(updated, summary=_summary(updated, alpha, min_effect))
    return results


@pytest.mark.parametrize("seed", range(40))
def test_vectorised_compare_endpoints_equals_the_per_endpoint_path(seed):
    rng = np.random.default_rng(seed)
    base, cand = {}, {}
    for i in range(int(rng.integers(1, 25))):
        seconds = int(rng.choice([40, 60, 200, 300, 720]))
        shift = float(rng.choice([1.0, 1.0, 1.08, 1.3, 0.8]))
        b = ar1(rng, seconds, phi=float(rng.uniform(0, 0.9)), mean=MEAN_MS, cv=CV)
        c = ar1(
            rng,
            seconds + int(rng.integers(-30, 30)),
            phi=float(rng.uniform(0, 0.9)),
            mean=shift * MEAN_MS,
            cv=CV,
        )
        kind = rng.integers(0, 6)
        if kind == 1:  # holes: seconds without requests
            c[rng.random(c.size) < 0.2] = np.nan
        elif kind == 2:  # ties: coarse values
            b, c = np.round(b / 10) * 10, np.round(c / 10) * 10
        elif kind == 3:  # too short
            c = c[:12]
        elif kind == 4:  # few blocks: scipy's exact test
            b, c = b[:45], c[:40]
        base[f"e{i}"], cand[f"e{i}"] = b, c
    base["only-base"] = _run(rng)
    for block in (None, 5, 10, 30):
        for lower_is_better in (True, False):
            kw = {"block_seconds": block, "lower_is_better": lower_is_better}
            _assert_same(compare_endpoints(base, cand, **kw), compare_endpoints_each(base, cand, **kw))


def test_vectorised_compare_endpoints_equals_the_per_endpoint_path_on_stored_blocks():
    rng = np.random.default_rng(99)
    base = {f"e{i}": ar1(rng, 720, phi=0.5, mean=MEAN_MS, cv=CV) for i in range(20)}
    cand = {
        f"e{i}": ar1(rng, 720, phi=0.5, mean=MEAN_MS * (1.1 if i % 3 == 0 else 1.0), cv=CV) for i in range(20)
    }
    kw = {"block_seconds": 25, "sample_seconds": 5}
    fast = compare_endpoints(base, cand, **kw)
    _assert_same(fast, compare_endpoints_each(base, cand, **kw))
    assert {r.verdict for r in fast.values()} >= {"slower", "no significant change"}


@pytest.mark.parametrize("blocks", [5, 40])  # scipy's exact test per series, and the stacked groups
def test_identical_runs_are_no_change_not_an_error(blocks: int) -> None:
    """Every block of both runs equal (e.g. a run compared with a copy of itself): all ranks tie,
    Mann-Whitney's p is NaN, and that is no evidence of a difference."""
    same = np.full(blocks * 5, 42.0)
    one = compare_samples(same, same.copy(), sample_seconds=1, block_seconds=5)
    assert one.verdict == "no significant change" and one.p_value == 1.0
    many = compare_endpoints(
        {"a": same, "b": same * 2, "c": np.linspace(40, 44, blocks * 5)},
        {"a": same.copy(), "b": same * 2, "c": np.linspace(40, 44, blocks * 5)},
        sample_seconds=1,
        block_seconds=5,
    )
    assert {name: c.verdict for name, c in many.items()} == dict.fromkeys("abc", "no significant change")
    assert all(
        c.p_value_adjusted is not None and c.p_value_adjusted == c.p_value_adjusted for c in many.values()
    )
