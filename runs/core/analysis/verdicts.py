"""Comparisons as answers in plain words: latency verdicts, and the change in capacity.

Pure module: no Django, no I/O. ``verdict_words`` says what a ``Comparison`` compared and how
sure it is, without the statistics' jargon (the numbers stay on the page beside it).
``capacity_change`` compares two runs' stored analyses (``RunAnalysis.data``): the change in
maximum throughput and in the knee, each with a 95 % interval from the steps' throughput
intervals (batch means), so a target made 10 % slower reads "max throughput −10 %" and not only
"p95 slower".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runs.core.analysis.compare import MIN_BLOCKS, Comparison

__all__ = ["CapacityChange", "capacity_change", "verdict_words"]

Z95 = 1.959963984540054
MIN_EFFECT = 0.05  # as the latency verdicts: smaller changes are "no significant change"


def _pct(value: float) -> str:
    return f"{value:+.1%}".replace("-", "−")


def verdict_words(c: Comparison, *, what: str = "p95 response time") -> str:
    """One sentence: the verdict, what was compared and how sure it is."""
    if c.p_value is None:
        if not (c.baseline_blocks and c.candidate_blocks):
            missing = (
                "either run"
                if not (c.baseline_blocks or c.candidate_blocks)
                else ("the reference" if not c.baseline_blocks else "this run")
            )
            return (
                f"Not enough data to compare: {missing} has no steady load step to compare "
                f"(each needs at least {MIN_BLOCKS * c.block_seconds} s of steady load)."
            )
        return (
            f"Not enough data to compare: {c.baseline_blocks * c.block_seconds} s against "
            f"{c.candidate_blocks * c.block_seconds} s of steady load; each run needs at least "
            f"{MIN_BLOCKS * c.block_seconds} s at load levels both reached."
        )
    ci = c.hl_ci_relative
    interval = f" (95 % sure it is between {_pct(ci[0])} and {_pct(ci[1])})" if ci else ""
    p = c.p_value_adjusted if c.p_value_adjusted is not None else c.p_value
    based = (
        f"based on {c.baseline_blocks * c.block_seconds} s against {c.candidate_blocks * c.block_seconds} s "
        "of steady load at the same load levels"
    )
    shift = _pct(c.hl_shift_relative)
    if c.verdict == "slower":
        return f"Slower: {what} {shift} against the reference{interval}, {based}."
    if c.verdict == "faster":
        return f"Faster: {what} {shift} against the reference{interval}, {based}."
    if p >= 0.05:
        return (
            f"No significant change: {what} {shift} against the reference{interval}, within "
            f"what run-to-run noise gives, {based}."
        )
    return (
        f"No significant change: {what} {shift} against the reference{interval}, smaller than "
        f"the {MIN_EFFECT:.0%} that counts as a change, {based}."
    )


@dataclass(frozen=True)
class CapacityChange:
    """The candidate's capacity against the reference's; relative changes and their 95 %
    intervals (``None`` where an input is missing)."""

    reference_max_rps: float
    candidate_max_rps: float
    max_rps_change: float
    max_rps_ci: tuple[float, float] | None
    reference_knee: float | None
    candidate_knee: float | None
    knee_change: float | None
    knee_ci: tuple[float, float] | None
    verdict: str  # "lower", "higher", "no significant change"
    sentence: str


def _relative_error(step: Mapping[str, Any]) -> float | None:
    """Standard error of a step's throughput, relative, from its 95 % batch-means interval."""
    ci = step.get("throughput_ci")
    x = step.get("throughput_rps") or 0.0
    if not ci or not x or not all(isinstance(v, int | float) and math.isfinite(v) for v in ci):
        return None
    return (ci[1] - ci[0]) / 2.0 / Z95 / x


def _ratio_ci(change: float, errors: list[float | None]) -> tuple[float, float] | None:
    if any(e is None for e in errors):
        return None
    se = math.sqrt(sum(e * e for e in errors if e is not None))  # on the log scale, ≈ relative
    ratio = 1.0 + change
    return (ratio * math.exp(-Z95 * se) - 1.0, ratio * math.exp(Z95 * se) - 1.0)


def _max_step(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    steps = [s for s in data.get("steps") or [] if (s.get("throughput_rps") or 0) > 0]
    return max(steps, key=lambda s: s["throughput_rps"]) if steps else None


def _cycle_step(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    steps = [s for s in data.get("steps") or [] if (s.get("throughput_rps") or 0) > 0 and s.get("users")]
    return min(steps, key=lambda s: s["users"] / s["throughput_rps"]) if steps else None


def capacity_change(reference: Mapping[str, Any], candidate: Mapping[str, Any]) -> CapacityChange | None:
    """The change in maximum throughput and knee from ``reference`` to ``candidate`` (stored
    analyses); ``None`` when either run has no step with throughput."""
    ref_top, cand_top = _max_step(reference), _max_step(candidate)
    if ref_top is None or cand_top is None:
        return None
    x_ref, x_cand = float(ref_top["throughput_rps"]), float(cand_top["throughput_rps"])
    change = x_cand / x_ref - 1.0
    ci = _ratio_ci(change, [_relative_error(ref_top), _relative_error(cand_top)])

    def knee_of(data: Mapping[str, Any]) -> float | None:
        knee = data.get("knee") or {}
        value = knee.get("knee_users") if knee.get("status") == "knee" else None
        return float(value) if isinstance(value, int | float) else None

    k_ref, k_cand = knee_of(reference), knee_of(candidate)
    knee_change = knee_ci = None
    if k_ref and k_cand:
        knee_change = k_cand / k_ref - 1.0
        # N* = X_max · N₁/X₁: its relative error combines the maximum's and the lowest step's.
        errors = [
            _relative_error(ref_top),
            _relative_error(cand_top),
            _relative_error(_cycle_step(reference) or {}),
            _relative_error(_cycle_step(candidate) or {}),
        ]
        knee_ci = _ratio_ci(knee_change, errors)

    significant = abs(change) >= MIN_EFFECT and (ci is None or ci[0] > 0 or ci[1] < 0)
    verdict = ("higher" if change > 0 else "lower") if significant else "no significant change"
    interval = f", 95 % interval {_pct(ci[0])} to {_pct(ci[1])}" if ci else ""
    if verdict == "no significant change":
        words = (
            f"Capacity unchanged: max throughput {x_cand:.0f} against {x_ref:.0f} req/s "
            f"({_pct(change)}{interval})"
        )
    else:
        words = (
            f"Capacity {verdict}: max throughput {'rose' if change > 0 else 'fell'} from {x_ref:.0f} to "
            f"{x_cand:.0f} req/s ({_pct(change)}{interval})"
        )
    if knee_change is not None and k_ref and k_cand:
        kci = f", 95 % interval {_pct(knee_ci[0])} to {_pct(knee_ci[1])}" if knee_ci else ""
        words += f"; knee ~{k_cand:.0f} against ~{k_ref:.0f} users ({_pct(knee_change)}{kci})"
    else:
        words += "; no knee in one of the runs to compare"
    return CapacityChange(
        reference_max_rps=x_ref,
        candidate_max_rps=x_cand,
        max_rps_change=change,
        max_rps_ci=ci,
        reference_knee=k_ref,
        candidate_knee=k_cand,
        knee_change=knee_change,
        knee_ci=knee_ci,
        verdict=verdict,
        sentence=words + ".",
    )
