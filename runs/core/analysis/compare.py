"""Regression verdicts between a baseline and a candidate run.

Input per run is a per-second series from the steady state, e.g. per-second p95 or mean
latency. Per-second values are autocorrelated (a slow second follows a slow second); treating
them as independent makes Mann–Whitney reject a true null in 30–50% of A/A comparisons when the
lag-1 autocorrelation is 0.6–0.8. So the series are first averaged into blocks of
``block_seconds``. By default the block is three times the integrated autocorrelation time
``(1 + ρ)/(1 − ρ)`` of an AR(1) process, with ρ the pooled lag-1 autocorrelation of both runs
(bias-corrected by ``(1 + 4ρ)/n``, Kendall 1954), at least 5 s, and short enough to leave 6
blocks per run. On synthetic AR(1) series (ρ = 0.3–0.8, 180–300 s) that holds Mann–Whitney's
A/A rejection rate to 5–8% at α = 0.05; short runs with strong autocorrelation hit the 6-block
cap and stay above it.

A verdict other than "no significant change" needs both

* a two-sided Mann–Whitney U p-value below ``alpha`` on the block values, and
* a Hodges–Lehmann shift of at least ``min_effect`` relative to the baseline median,

so tiny but "significant" differences between long runs are not reported as regressions.
The test asks whether *these two runs* differ; run-to-run variance (another day, another
deploy of the same code) is not in the data, which is one more reason for the effect floor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from scipy import stats

__all__ = ["Comparison", "auto_block_seconds", "compare_endpoints", "compare_samples", "comparison_summary"]

Verdict = Literal["faster", "slower", "no significant change", "insufficient data"]
MIN_BLOCKS = 3
TARGET_BLOCKS = 6
MIN_BLOCK_SECONDS = 5
EXACT_MAX_BLOCKS = 8  # scipy's mannwhitneyu may use its exact test at or below this
BLOCK_FACTOR = 3.0  # block length in integrated autocorrelation times


@dataclass(frozen=True)
class Comparison:
    verdict: Verdict
    p_value: float | None
    p_value_adjusted: float | None  # Benjamini–Hochberg across endpoints; None for one pair
    baseline_median: float
    candidate_median: float
    median_shift_relative: float  # candidate median / baseline median − 1
    hl_shift: float  # Hodges–Lehmann estimate of candidate − baseline (block values)
    hl_ci: tuple[float, float] | None
    hl_shift_relative: float  # hl_shift / baseline median
    hl_ci_relative: tuple[float, float] | None
    block_seconds: int
    baseline_blocks: int
    candidate_blocks: int
    confidence: float
    summary: str


def compare_samples(
    baseline: Sequence[float] | np.ndarray,
    candidate: Sequence[float] | np.ndarray,
    *,
    block_seconds: int | None = None,
    sample_seconds: int = 1,
    alpha: float = 0.05,
    min_effect: float = 0.05,
    confidence: float = 0.95,
    lower_is_better: bool = True,
) -> Comparison:
    """Compare two per-second series; see the module docstring.

    ``lower_is_better`` is True for latencies; pass False for throughput so that a higher
    candidate reads "faster". NaN seconds (no requests) are ignored within their block.
    With ``sample_seconds`` > 1 each value is already the mean of that many seconds (stored
    block series); ``block_seconds`` must then be a multiple of it.
    """
    base = np.asarray(baseline, dtype=float)
    cand = np.asarray(candidate, dtype=float)
    if block_seconds is None:
        block_seconds = auto_block_seconds(base, cand, sample_seconds=sample_seconds)
    if block_seconds < 1 or sample_seconds < 1 or block_seconds % sample_seconds:
        raise ValueError("block_seconds must be a positive multiple of sample_seconds")
    a = _block_means(base, block_seconds // sample_seconds)
    b = _block_means(cand, block_seconds // sample_seconds)

    base_median = float(np.median(a)) if a.size else float("nan")
    cand_median = float(np.median(b)) if b.size else float("nan")
    if a.size < MIN_BLOCKS or b.size < MIN_BLOCKS or not base_median > 0:
        return _insufficient(a.size, b.size, base_median, cand_median, block_seconds, confidence)

    p_value = _tied_is_no_evidence(float(stats.mannwhitneyu(b, a, alternative="two-sided").pvalue), a, b)
    hl, ci = hodges_lehmann(b, a, confidence=confidence)
    return _tested(
        p_value,
        None,
        hl,
        ci,
        block_seconds,
        a.size,
        b.size,
        base_median,
        cand_median,
        alpha=alpha,
        min_effect=min_effect,
        confidence=confidence,
        lower_is_better=lower_is_better,
    )


def compare_endpoints(
    baseline: Mapping[str, Sequence[float] | np.ndarray],
    candidate: Mapping[str, Sequence[float] | np.ndarray],
    *,
    block_seconds: int | None = None,
    sample_seconds: int = 1,
    alpha: float = 0.05,
    min_effect: float = 0.05,
    confidence: float = 0.95,
    lower_is_better: bool = True,
) -> dict[str, Comparison]:
    """``compare_samples`` for every endpoint present in both runs.

    Include the run-wide series under its own key (e.g. ``"overall"``) to get the overall
    verdict. With several endpoints, verdicts use Benjamini–Hochberg adjusted p-values so a
    page of twenty endpoints does not show one false regression in every run.

    The endpoints are tested together: those with the same numbers of blocks (after blocking,
    at least ``EXACT_MAX_BLOCKS + 1`` each, all finite) share one Mann–Whitney call along an
    axis and one partition of the stacked Hodges–Lehmann differences. The results equal
    ``compare_samples`` endpoint by endpoint (the per-endpoint reference in the tests); the per-call
    overhead of scipy is paid once per group instead of once per endpoint.
    """
    names = [name for name in baseline if name in candidate]
    settings: dict[str, Any] = {
        "alpha": alpha,
        "min_effect": min_effect,
        "confidence": confidence,
        "lower_is_better": lower_is_better,
    }
    results: dict[str, Comparison] = {}
    tests: dict[str, tuple[float, float, tuple[float, float] | None]] = {}  # name -> p, HL, CI
    blocked: dict[str, tuple[int, np.ndarray, np.ndarray, float, float]] = {}
    groups: dict[tuple[int, int], list[str]] = {}
    for name in names:
        base = np.asarray(baseline[name], dtype=float)
        cand = np.asarray(candidate[name], dtype=float)
        block = block_seconds
        if block is None:
            block = auto_block_seconds(base, cand, sample_seconds=sample_seconds)
        if block < 1 or sample_seconds < 1 or block % sample_seconds:
            raise ValueError("block_seconds must be a positive multiple of sample_seconds")
        a = _block_means(base, block // sample_seconds)
        b = _block_means(cand, block // sample_seconds)
        base_median = float(np.median(a)) if a.size else float("nan")
        cand_median = float(np.median(b)) if b.size else float("nan")
        if a.size < MIN_BLOCKS or b.size < MIN_BLOCKS or not base_median > 0:
            results[name] = _insufficient(a.size, b.size, base_median, cand_median, block, confidence)
            continue
        blocked[name] = (block, a, b, base_median, cand_median)
        if (
            a.size > EXACT_MAX_BLOCKS
            and b.size > EXACT_MAX_BLOCKS
            and np.isfinite(a).all()
            and np.isfinite(b).all()
        ):
            groups.setdefault((a.size, b.size), []).append(name)
        else:  # scipy's exact test (or NaN/inf handling) decides per series: test it alone
            p_value = _tied_is_no_evidence(
                float(stats.mannwhitneyu(b, a, alternative="two-sided").pvalue), a, b
            )
            tests[name] = (p_value, *hodges_lehmann(b, a, confidence=confidence))
    for group in groups.values():
        a2 = np.stack([blocked[n][1] for n in group])
        b2 = np.stack([blocked[n][2] for n in group])
        p_values = np.atleast_1d(stats.mannwhitneyu(b2, a2, alternative="two-sided", axis=1).pvalue)
        estimates, cis = _hodges_lehmann_rows(b2, a2, confidence=confidence)
        for k, name in enumerate(group):
            p_value = _tied_is_no_evidence(float(p_values[k]), a2[k], b2[k])
            tests[name] = (p_value, estimates[k], cis[k] if cis is not None else None)

    tested = [name for name in names if name in tests]
    adjusted: dict[str, float] = {}
    finite = [name for name in tested if math.isfinite(tests[name][0])]
    if len(finite) >= 2:
        bh = stats.false_discovery_control([tests[n][0] for n in finite], method="bh")
        adjusted = {n: float(p) for n, p in zip(finite, bh, strict=True)}
    for name in tested:
        block, a, b, base_median, cand_median = blocked[name]
        p_value, hl, ci = tests[name]
        results[name] = _tested(
            p_value, adjusted.get(name), hl, ci, block, a.size, b.size, base_median, cand_median, **settings
        )
    return {name: results[name] for name in names}


def comparison_summary(c: Comparison, *, alpha: float = 0.05, min_effect: float = 0.05) -> str:
    """The ``summary`` text of a Comparison from its other fields (as ``compare_samples`` and
    ``compare_endpoints`` with these ``alpha`` and ``min_effect`` write it)."""
    if c.p_value is None:
        return _insufficient(
            c.baseline_blocks,
            c.candidate_blocks,
            c.baseline_median,
            c.candidate_median,
            c.block_seconds,
            c.confidence,
        ).summary
    return _summary(c, alpha, min_effect)


def _insufficient(
    base_blocks: int,
    cand_blocks: int,
    base_median: float,
    cand_median: float,
    block_seconds: int,
    confidence: float,
) -> Comparison:
    return Comparison(
        verdict="insufficient data",
        p_value=None,
        p_value_adjusted=None,
        baseline_median=base_median,
        candidate_median=cand_median,
        median_shift_relative=float("nan"),
        hl_shift=float("nan"),
        hl_ci=None,
        hl_shift_relative=float("nan"),
        hl_ci_relative=None,
        block_seconds=block_seconds,
        baseline_blocks=int(base_blocks),
        candidate_blocks=int(cand_blocks),
        confidence=confidence,
        summary=(
            f"insufficient data: {base_blocks} vs {cand_blocks} blocks of {block_seconds} s "
            f"(need {MIN_BLOCKS} each) or no positive baseline median"
        ),
    )


def _tied_is_no_evidence(p_value: float, a: np.ndarray, b: np.ndarray) -> float:
    """Mann–Whitney's p is NaN when every block of both runs has the same value (all ranks
    tied, e.g. two runs with identical data): that is no evidence of a difference, p = 1."""
    if math.isnan(p_value) and a.size and b.size:
        both = np.concatenate([a, b])
        if np.isfinite(both).all() and both.min() == both.max():
            return 1.0
    return p_value


def _tested(
    p_value: float,
    p_adjusted: float | None,
    hl: float,
    ci: tuple[float, float] | None,
    block_seconds: int,
    base_blocks: int,
    cand_blocks: int,
    base_median: float,
    cand_median: float,
    *,
    alpha: float,
    min_effect: float,
    confidence: float,
    lower_is_better: bool,
) -> Comparison:
    """The Comparison ``compare_samples`` (and, with ``p_adjusted``, the BH step of
    the per-endpoint reference in the tests) builds from a test's results."""
    relative = hl / base_median
    comparison = Comparison(
        verdict=_verdict(
            p_value if p_adjusted is None else p_adjusted, relative, alpha, min_effect, lower_is_better
        ),
        p_value=p_value,
        p_value_adjusted=p_adjusted,
        baseline_median=base_median,
        candidate_median=cand_median,
        median_shift_relative=cand_median / base_median - 1.0,
        hl_shift=hl,
        hl_ci=ci,
        hl_shift_relative=relative,
        hl_ci_relative=(ci[0] / base_median, ci[1] / base_median) if ci else None,
        block_seconds=block_seconds,
        baseline_blocks=int(base_blocks),
        candidate_blocks=int(cand_blocks),
        confidence=confidence,
        summary="",
    )
    return replace(comparison, summary=_summary(comparison, alpha, min_effect))


def auto_block_seconds(*series: np.ndarray, sample_seconds: int = 1) -> int:
    """Block length from the pooled lag-1 autocorrelation (see the module docstring).

    With ``sample_seconds`` > 1 the values are means of that many seconds: the rule is applied
    in samples (their own autocorrelation) and the result, a multiple of ``sample_seconds``,
    is still in seconds.
    """
    weighted = [(_lag1_autocorrelation(s[np.isfinite(s)]), int(np.isfinite(s).sum())) for s in series]
    weighted = [(r, n) for r, n in weighted if n > 2 and math.isfinite(r)]
    if not weighted:
        return sample_seconds
    total = sum(n for _, n in weighted)
    rho = sum(r * n for r, n in weighted) / total
    rho += (1.0 + 4.0 * rho) / (total / len(weighted))  # small-sample bias of the estimate
    rho = min(max(rho, 0.0), 0.95)
    block = max(
        math.ceil(MIN_BLOCK_SECONDS / sample_seconds), math.ceil(BLOCK_FACTOR * (1.0 + rho) / (1.0 - rho))
    )
    shortest = min(len(s) for s in series)
    return sample_seconds * max(1, min(block, shortest // TARGET_BLOCKS))


def hodges_lehmann(
    x: np.ndarray, y: np.ndarray, *, confidence: float = 0.95
) -> tuple[float, tuple[float, float] | None]:
    """Hodges–Lehmann estimate of the shift x − y with its distribution-free CI.

    The CI is the pair of order statistics of all pairwise differences that corresponds to
    the Mann–Whitney acceptance region (Hollander & Wolfe, normal approximation).
    """
    diffs = np.subtract.outer(x, y).ravel()
    m, n = len(x), len(y)
    # Only a few order statistics are needed: partitioning finds them without a full sort
    # (a comparison page computes a couple of hundred of these).
    middle, wanted, c = _hl_ranks(m, n, _hl_z(confidence))
    ordered = np.partition(diffs, wanted)
    estimate = float(np.mean([ordered[i] for i in middle]))
    if c < 1:
        return estimate, None
    return estimate, (float(ordered[c - 1]), float(ordered[m * n - c]))


@lru_cache(maxsize=16)
def _hl_z(confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2.0))


def _hl_ranks(m: int, n: int, z: float) -> tuple[list[int], list[int], int]:
    """Order statistics ``hodges_lehmann`` reads: the middle one(s), then the CI's (if c ≥ 1)."""
    c = math.floor(m * n / 2.0 - z * math.sqrt(m * n * (m + n + 1) / 12.0))
    middle = {(m * n - 1) // 2, m * n // 2}
    wanted = sorted(middle | ({c - 1, m * n - c} if c >= 1 else set()))
    return sorted(middle), wanted, c


def _hodges_lehmann_rows(
    x: np.ndarray, y: np.ndarray, *, confidence: float = 0.95
) -> tuple[list[float], list[tuple[float, float]] | None]:
    """``hodges_lehmann`` of every row pair of two 2-D arrays (rows: series of equal length):
    one partition of all rows' pairwise differences along the last axis."""
    k, m = x.shape
    n = y.shape[1]
    diffs = (x[:, :, None] - y[:, None, :]).reshape(k, m * n)
    middle, wanted, c = _hl_ranks(m, n, _hl_z(confidence))
    ordered = np.partition(diffs, wanted, axis=1)
    estimates = ordered[:, middle].mean(axis=1).tolist()
    if c < 1:
        return estimates, None
    return estimates, [(float(lo), float(hi)) for lo, hi in ordered[:, [c - 1, m * n - c]].tolist()]


def _verdict(
    p_value: float, relative: float, alpha: float, min_effect: float, lower_is_better: bool
) -> Verdict:
    if p_value >= alpha or abs(relative) < min_effect:
        return "no significant change"
    worse = relative > 0 if lower_is_better else relative < 0
    return "slower" if worse else "faster"


def _summary(c: Comparison, alpha: float, min_effect: float) -> str:
    ci = (
        f" ({c.confidence:.0%} CI {c.hl_ci_relative[0]:+.1%} to {c.hl_ci_relative[1]:+.1%})"
        if c.hl_ci_relative
        else ""
    )
    p = f"p = {c.p_value:.3g}"
    if c.p_value_adjusted is not None:
        p += f" (BH-adjusted {c.p_value_adjusted:.3g})"
    return (
        f"{c.verdict}: shift {c.hl_shift_relative:+.1%}{ci}, Mann–Whitney {p} on "
        f"{c.baseline_blocks} vs {c.candidate_blocks} blocks of {c.block_seconds} s; "
        f"needs p < {alpha:g} and |shift| ≥ {min_effect:.0%}"
    )


def _block_means(values: np.ndarray, block: int) -> np.ndarray:
    """Means of consecutive whole blocks; leading leftover seconds and empty blocks dropped."""
    k = len(values) // block
    if k == 0:
        return np.empty(0)
    shaped = values[len(values) - k * block :].reshape(k, block)
    filled = np.isfinite(shaped).any(axis=1)
    if not filled.any():
        return np.empty(0)
    # np.nanmean(rows, axis=1), spelled out as numpy does it (sum with NaN as 0, / count)
    # without its per-call overhead (a comparison page blocks a few hundred series).
    rows = shaped[filled]
    missing = np.isnan(rows)
    return np.where(missing, 0.0, rows).sum(axis=1) / (~missing).sum(axis=1, dtype=np.intp)


def _lag1_autocorrelation(x: np.ndarray) -> float:
    if len(x) < 3:
        return float("nan")
    d = x - x.mean()
    denom = float(d @ d)
    return float(d[:-1] @ d[1:]) / denom if denom > 0 else 0.0
