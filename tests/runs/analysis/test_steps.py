from __future__ import annotations

import numpy as np
import pytest

from runs.core.analysis.steps import (
    IntervalPoint,
    aggregate_step,
    aggregate_steps,
    batch_means_ci,
    bootstrap_percentile_ci,
    detect_steps,
    percentile_from_counts,
)
from runs.core.histogram import Histogram, bucket_value_us
from tests.runs.analysis.synthetic import ar1, closed_model_run


def _point(t: int, users: int, latencies_ms: list[float] | None = None, **kw: object) -> IntervalPoint:
    h = Histogram()
    for v in latencies_ms or [10.0]:
        h.record_ms(v)
    return IntervalPoint(
        t=t,
        users=users,
        requests=kw.pop("requests", h.total),  # type: ignore[arg-type]
        failures=kw.pop("failures", 0),  # type: ignore[arg-type]
        histogram=h,
        cpu_percent=kw.pop("cpu_percent", None),  # type: ignore[arg-type]
    )


# -- detect_steps ------------------------------------------------------------------------------


def test_it_groups_plateaus_and_drops_ramp_seconds_between_them():
    points = closed_model_run([10, 20, 40], step_seconds=30, ramp_seconds=3, seed=1)
    steps = detect_steps(points, min_step_seconds=10)
    assert [s.users for s in steps] == [10, 20, 40]
    assert [s.seconds for s in steps] == [30, 30, 30]
    # Ramps are 3 s each, so step k starts after k+1 ramps and k plateaus.
    assert [s.start_t for s in steps] == [3, 36, 69]
    assert all(p.users == s.users for s in steps for p in s.points)


def test_it_sorts_points_by_time_before_grouping():
    points = [_point(t, 5 if t < 12 else 9) for t in range(24)]
    shuffled = points[::2] + points[1::2]
    steps = detect_steps(shuffled, min_step_seconds=10)
    assert [(s.users, s.start_t, s.end_t) for s in steps] == [(5, 0, 11), (9, 12, 23)]


def test_it_joins_a_plateau_interrupted_by_a_short_blip():
    users = [50] * 20 + [49] * 2 + [50] * 20
    steps = detect_steps([_point(t, u) for t, u in enumerate(users)], min_step_seconds=10)
    assert len(steps) == 1
    assert steps[0].users == 50 and steps[0].seconds == 40


def test_it_drops_idle_seconds_at_zero_users():
    users = [0] * 15 + [10] * 15
    steps = detect_steps([_point(t, u) for t, u in enumerate(users)], min_step_seconds=10)
    assert [s.users for s in steps] == [10]


def test_it_rejects_a_non_positive_minimum_step():
    with pytest.raises(ValueError):
        detect_steps([], min_step_seconds=0)


# -- aggregate_steps ---------------------------------------------------------------------------


def test_it_trims_warmup_so_cold_start_latency_stays_out_of_the_step():
    points = closed_model_run([10], step_seconds=60, warmup_seconds=8, seed=2)
    trimmed = aggregate_steps(points, warmup_seconds=8)[0]
    untrimmed = aggregate_steps(points, warmup_seconds=0)[0]
    assert trimmed.trimmed_s == 8 and trimmed.duration_s == 52
    assert trimmed.start_t == points[3 + 8].t
    # Model: 50 ms mean, log-normal σ = 0.4 → p95 = 50·exp(−0.08 + 1.645·0.4) ≈ 89 ms.
    assert trimmed.p95_ms == pytest.approx(89.2, rel=0.06)
    assert untrimmed.p95_ms > trimmed.p95_ms * 1.1


def test_warmup_fraction_wins_when_it_trims_more_than_the_seconds():
    points = [_point(t, 5) for t in range(100)]
    agg = aggregate_step(detect_steps(points)[0], warmup_seconds=5, warmup_fraction=0.2)
    assert agg.trimmed_s == 20 and agg.duration_s == 80


def test_it_never_trims_a_step_away_entirely():
    points = [_point(t, 5) for t in range(10)]
    agg = aggregate_step(detect_steps(points)[0], warmup_seconds=60)
    assert agg.duration_s == 1


def test_percentiles_come_from_the_merged_histograms_not_an_average_of_seconds():
    # Nine seconds at 10 ms and one at 100 ms, 10 requests each. Averaging per-second p95s
    # gives 19 ms; the p95 of all 100 requests is rank 95, inside the slow second: 100 ms.
    points = [_point(t, 3, [10.0] * 10) for t in range(9)] + [_point(9, 3, [100.0] * 10)]
    agg = aggregate_step(detect_steps(points)[0], warmup_seconds=0)
    merged = Histogram.merged(p.histogram for p in points)
    assert agg.p95_ms == merged.percentile_ms(95) == pytest.approx(100.0, rel=1e-3)
    assert agg.p50_ms == pytest.approx(10.0, rel=1e-3)
    assert agg.requests == 100


def test_it_reports_error_rate_request_count_and_cpu():
    points = [_point(t, 4, [5.0] * 20, failures=1 if t % 2 else 0, cpu_percent=40.0 + t) for t in range(20)]
    agg = aggregate_step(detect_steps(points)[0], warmup_seconds=0)
    assert agg.requests == 400
    assert agg.failures == 10
    assert agg.error_rate == pytest.approx(10 / 400)
    assert agg.cpu_mean == pytest.approx(np.mean([40.0 + t for t in range(20)]))
    assert agg.cpu_max == pytest.approx(59.0)
    assert agg.throughput_rps == pytest.approx(20.0)


def test_cpu_is_none_when_the_generator_did_not_report_it():
    agg = aggregate_step(detect_steps([_point(t, 4) for t in range(20)])[0], warmup_seconds=0)
    assert agg.cpu_mean is None and agg.cpu_max is None


def test_throughput_ci_covers_the_true_rate_and_narrows_with_longer_steps():
    true_rate = 200 / (0.05 + 1.0)  # 200 users, 50 ms service, 1 s think: below saturation
    short = aggregate_steps(closed_model_run([200], step_seconds=30, seed=3, servers=50))[0]
    long = aggregate_steps(closed_model_run([200], step_seconds=300, seed=3, servers=50))[0]
    for agg in (short, long):
        assert agg.throughput_ci is not None
        assert agg.throughput_ci[0] < true_rate < agg.throughput_ci[1]
    width = lambda a: a.throughput_ci[1] - a.throughput_ci[0]  # noqa: E731
    assert width(long) < width(short) / 2


def test_batch_means_ci_keeps_coverage_under_autocorrelation():
    """An i.i.d. t-interval over AR(1) seconds (ρ = 0.7) covers the mean far less than 95%."""
    rng = np.random.default_rng(7)
    trials = 400
    batch_hits = iid_hits = 0
    for _ in range(trials):
        x = ar1(rng, 300, phi=0.7, mean=100.0, cv=0.1)
        low, high = batch_means_ci(x)
        batch_hits += low < 100.0 < high
        sem = x.std(ddof=1) / np.sqrt(x.size)
        iid_hits += abs(x.mean() - 100.0) < 1.968 * sem
    assert batch_hits / trials >= 0.90
    assert iid_hits / trials < 0.80


def test_batch_means_ci_is_none_with_fewer_than_two_batches():
    assert batch_means_ci(np.array([5.0, 6.0])) is not None  # b = 1, k = 2
    assert batch_means_ci(np.array([5.0, 6.0, 7.0])) is None  # b = 2, k = 1
    assert batch_means_ci(np.array([5.0])) is None


def test_p95_ci_brackets_the_point_estimate_and_is_reproducible():
    points = closed_model_run([40], step_seconds=120, seed=4)
    a = aggregate_steps(points, seed=11)[0]
    b = aggregate_steps(points, seed=11)[0]
    assert a.p95_ci_ms is not None
    assert a.p95_ci_ms == b.p95_ci_ms
    assert a.p95_ci_ms[0] <= a.p95_ms <= a.p95_ci_ms[1]
    assert a.p95_ci_ms[1] - a.p95_ci_ms[0] < 0.2 * a.p95_ms


def test_percentile_from_counts_matches_the_histogram_rank_rule():
    rng = np.random.default_rng(5)
    histograms = []
    for _ in range(30):
        h = Histogram()
        for v in rng.lognormal(3.0, 1.0, int(rng.integers(0, 60))):
            h.record_ms(float(v))
        histograms.append(h)
    keys = sorted({k for h in histograms for k in h.counts})
    counts = np.array([[h.counts.get(k, 0) for k in keys] for h in histograms])
    values = np.array([bucket_value_us(k) for k in keys])
    for q in (50.0, 95.0, 99.0, 99.9):
        merged = Histogram.merged(histograms)
        got = percentile_from_counts(
            counts.sum(axis=0, keepdims=True),
            values,
            q,
            np.array([merged.min_us]),
            np.array([merged.max_us]),
        )
        assert got[0] == merged.percentile_us(q)


def test_bootstrap_ci_is_none_when_nothing_was_recorded():
    rng = np.random.default_rng(0)
    assert bootstrap_percentile_ci([Histogram() for _ in range(20)], 95, rng=rng) is None


def test_p95_ci_keeps_coverage_when_slow_seconds_cluster():
    """Per-second latency scale follows AR(1) (ρ = 0.5) in log space, so slow seconds come in
    runs. Log latency is then normal with variance 0.3² + 0.3², which gives the true p95 in
    closed form. Block resampling covers it in 90% of these trials; resampling single seconds
    ignores the clustering and covers it in 70%."""
    rng = np.random.default_rng(21)
    mu, within, between = np.log(50.0), 0.3, 0.3
    true_p95 = np.exp(mu + 1.6448536 * np.hypot(within, between))
    trials, covered = 60, 0
    for _ in range(trials):
        levels = ar1(rng, 120, phi=0.5, mean=1.0, cv=between) - 1.0  # sd = between
        histograms = []
        for level in levels:
            h = Histogram()
            for v in rng.lognormal(mu + level, within, 30):
                h.record_ms(float(v))
            histograms.append(h)
        low, high = bootstrap_percentile_ci(histograms, 95.0, resamples=400, rng=rng)
        covered += low < true_p95 < high
    assert covered / trials >= 0.85
