"""Comparisons in plain words, and the change in capacity between two runs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from runs.core.analysis.compare import compare_samples
from runs.core.analysis.verdicts import capacity_change, verdict_words


def test_no_steady_load_in_either_run_says_so_without_internal_terms() -> None:
    c = compare_samples([], [], block_seconds=5)
    words = verdict_words(c)
    assert words == (
        "Not enough data to compare: either run has no steady load step to compare "
        "(each needs at least 15 s of steady load)."
    )
    for jargon in ("blocks", "median", "no_steps", "insufficient"):
        assert jargon not in words


def test_a_slower_run_reads_as_an_answer_with_how_sure() -> None:
    rng = np.random.default_rng(1)
    base = 100 + rng.normal(0, 2, 120)
    c = compare_samples(base, base * 1.2 + rng.normal(0, 2, 120), block_seconds=5)
    words = verdict_words(c)
    assert words.startswith("Slower: p95 response time +")
    assert "95 % sure it is between +" in words
    assert "based on 120 s against 120 s of steady load at the same load levels" in words


def test_an_aa_pair_reads_as_no_change() -> None:
    rng = np.random.default_rng(2)
    c = compare_samples(100 + rng.normal(0, 2, 120), 100 + rng.normal(0, 2, 120), block_seconds=5)
    assert verdict_words(c).startswith("No significant change: p95 response time")


def analysis(users: list[int], rps: list[float], half_width: float, knee: float | None) -> dict[str, Any]:
    return {
        "steps": [
            {"users": n, "throughput_rps": x, "throughput_ci": [x - half_width, x + half_width]}
            for n, x in zip(users, rps, strict=True)
        ],
        "knee": {"status": "knee", "knee_users": knee} if knee else {"status": "no_knee", "knee_users": None},
    }


def test_a_target_made_10_percent_slower_reports_lower_capacity_with_its_interval() -> None:
    users = [2, 5, 8, 11, 14, 17]
    ref = analysis(users, [93.0, 228.0, 359.0, 480.0, 463.0, 460.0], 5.0, 10.3)
    slow = analysis(users, [84.0, 205.0, 323.0, 434.0, 420.0, 416.0], 5.0, 10.3)
    change = capacity_change(ref, slow)
    assert change is not None
    assert change.verdict == "lower"
    assert change.max_rps_change == pytest.approx(434 / 480 - 1)
    assert change.max_rps_ci is not None
    low, high = change.max_rps_ci
    assert low < change.max_rps_change < high < 0
    assert change.sentence.startswith(
        "Capacity lower: max throughput fell from 480 to 434 req/s (−9.6%, 95 % interval"
    )
    assert "knee ~10 against ~10 users (+0.0%" in change.sentence


def test_a_small_change_inside_the_noise_is_no_significant_change() -> None:
    ref = analysis([2, 4, 8], [40.0, 80.0, 100.0], 3.0, None)
    cand = analysis([2, 4, 8], [41.0, 81.0, 102.0], 3.0, None)
    change = capacity_change(ref, cand)
    assert change is not None and change.verdict == "no significant change"
    assert change.sentence.startswith("Capacity unchanged: max throughput 102 against 100 req/s (+2.0%")
    assert change.sentence.endswith("; no knee in one of the runs to compare.")


def test_runs_without_steps_have_no_capacity_change() -> None:
    assert capacity_change({"steps": []}, analysis([2], [40.0], 1.0, None)) is None
