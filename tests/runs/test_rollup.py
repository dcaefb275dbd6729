"""The retention roll-up's merge (runs.core.rollup): pure, no database."""

from __future__ import annotations

import random

from runs.core import rollup
from runs.core.histogram import Histogram


def _hist(values: list[float]) -> Histogram:
    h = Histogram()
    for v in values:
        h.record_ms(v)
    return h


def test_it_merges_each_window_exactly_and_keeps_the_peak_users_and_mean_cpu() -> None:
    rng = random.Random(7)
    rows, per_second = [], []
    for t in range(25):
        values = [rng.uniform(5, 500) for _ in range(rng.randint(0, 30))]
        per_second.append(values)
        rows.append(
            rollup.SecondRow(
                t=t,
                users=t // 3,
                requests=len(values),
                failures=t % 2,
                bytes=100 * len(values),
                cpu_percent=None if t == 4 else float(t),
                dropped_iterations=1,
                histogram=_hist(values),
            )
        )
    out = rollup.rollup_seconds(rows)
    assert [r.t for r in out] == [0, 10, 20]
    for row in out:
        window = [r for r in rows if row.t <= r.t < row.t + 10]
        samples = [v for r in window for v in per_second[r.t]]
        assert row.requests == len(samples) == row.histogram.total
        assert row.failures == sum(r.failures for r in window)
        assert row.bytes == sum(r.bytes for r in window)
        assert row.dropped_iterations == len(window)
        assert row.users == max(r.users for r in window)
        cpus = [r.cpu_percent for r in window if r.cpu_percent is not None]
        assert row.cpu_percent == sum(cpus) / len(cpus)
        # Exactly what recording every sample of the window gives: same buckets, same p99.
        assert row.histogram.to_bytes() == _hist(samples).to_bytes()
        assert rollup.figures(row.histogram)["p99_ms"] == _hist(samples).percentile_ms(99)


def test_endpoints_and_generators_merge_per_key_and_window() -> None:
    eps = [
        rollup.EndpointRow(
            t=t, method="GET", name=name, requests=2, failures=1, bytes=10, histogram=_hist([t, 2 * t])
        )
        for t in range(12)
        for name in ("/a", "/b")
        if not (name == "/b" and t > 5)
    ]
    out = rollup.rollup_endpoints(eps)
    assert [(r.t, r.name, r.requests) for r in out] == [(0, "/a", 20), (0, "/b", 12), (10, "/a", 4)]
    assert out[0].histogram.to_bytes() == _hist([v for t in range(10) for v in (t, 2 * t)]).to_bytes()
    gens = [
        rollup.GeneratorRow(generator=g, t=t, requests=1, failures=0, cpu_percent=10.0 * g)
        for g in (0, 1)
        for t in range(15)
    ]
    rolled = rollup.rollup_generators(gens)
    assert [(r.generator, r.t, r.requests, r.cpu_percent) for r in rolled] == [
        (0, 0, 10, 0.0),
        (0, 10, 5, 0.0),
        (1, 0, 10, 10.0),
        (1, 10, 5, 10.0),
    ]


def test_it_is_idempotent_a_rolled_row_stays_as_it_is() -> None:
    rows = [rollup.SecondRow(t=t, requests=1, histogram=_hist([1.0])) for t in range(30)]
    once = rollup.rollup_seconds(rows)
    twice = rollup.rollup_seconds(once)
    assert [(r.t, r.requests, r.histogram.to_bytes()) for r in twice] == [
        (r.t, r.requests, r.histogram.to_bytes()) for r in once
    ]
    assert rollup.rows_after(range(3600)) == 360
    assert rollup.rows_after([0, 9, 10, 3605]) == 3


def test_the_last_window_of_a_run_spans_only_its_seconds() -> None:
    # A run of 155 s (last_t 154): its last row covers 150..154, so 5 s.
    assert rollup.row_span(140, resolution_s=10, last_t=154) == 10
    assert rollup.row_span(150, resolution_s=10, last_t=154) == 5
    assert rollup.row_span(7, resolution_s=1, last_t=154) == 1
    assert rollup.rate(50, 150, resolution_s=10, last_t=154) == 10.0
    assert rollup.rate(50, 140, resolution_s=10, last_t=154) == 5.0
