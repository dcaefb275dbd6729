"""runs.figures.analysis: pure builders, no database."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from runs.core.analysis import IntervalPoint, aggregate_steps, fit_usl
from runs.core.analysis.capacity import knee_from_steps
from runs.core.histogram import Histogram
from runs.figures import analysis as fa

HOSTILE = "<img src=x onerror=alert(1)>"
LEVELS = (2, 8, 14, 20, 26)


def stepped_points(levels: tuple[int, ...] = LEVELS, seconds: int = 20, seed: int = 0) -> list[IntervalPoint]:
    """Throughput min(20·N, 160) req/s, mean latency N/X s (Little's law, no think time)."""
    rng = np.random.default_rng(seed)
    points, t = [], 0
    for users in levels:
        x = min(20.0 * users, 160.0)
        for _ in range(seconds):
            h = Histogram()
            n = int(x + rng.integers(-2, 3))
            for v in rng.uniform(0.8, 1.2, size=n) * 1000.0 * users / x:
                h.record_ms(float(v))
            points.append(
                IntervalPoint(t=t, users=users, requests=n, failures=0, histogram=h, cpu_percent=20.0)
            )
            t += 1
    return points


@pytest.fixture(scope="module")
def steps():
    return aggregate_steps(stepped_points(), bootstrap_resamples=100)


def test_throughput_figure_has_steps_with_cis_the_usl_curve_and_the_knee(steps):
    usl = fit_usl([s.users for s in steps], [s.throughput_rps for s in steps])
    knee = knee_from_steps(steps)
    fig = fa.throughput_vs_users_figure(steps, usl=usl, knee=knee)
    names = [t["name"] for t in fig["data"]]
    assert names[0] == "measured req/s"
    assert names[1].startswith("USL fit (R² ")
    assert names[-1] == "knee"
    measured = fig["data"][0]
    assert measured["x"] == list(LEVELS)
    assert measured["y"][1] == pytest.approx(160.0, rel=0.03)
    bars = measured["error_y"]
    assert all(v is not None and v >= 0 for v in bars["array"] + bars["arrayminus"])
    curve = fig["data"][1]
    assert len(curve["x"]) == 120 and curve["x"][0] == 1.0 and curve["x"][-1] >= max(LEVELS)
    # The knee of the operational laws lies between steps (N* = 7.9 here, steps at 2 and 8
    # users): drawn where the bounds meet, at the maximum throughput.
    assert knee.status == "knee" and knee.knee_users is not None and knee.knee_users not in LEVELS
    assert fig["data"][-1]["x"] == [knee.knee_users] and 7.0 < knee.knee_users < 9.0
    assert fig["data"][-1]["y"] == [pytest.approx(knee.max_throughput_rps, rel=1e-3)]
    json.dumps(fig)  # serialisable for json_script


def test_throughput_figure_without_usl_or_knee_draws_only_the_steps(steps):
    fig = fa.throughput_vs_users_figure(steps[:2])
    assert [t["name"] for t in fig["data"]] == ["measured req/s"]


def test_latency_figures_draw_three_percentiles_and_the_p95_ci(steps):
    by_users = fa.latency_vs_users_figure(steps)
    assert [t["name"] for t in by_users["data"]] == ["p50", "p95", "p99"]
    assert "error_y" in by_users["data"][1] and "error_y" not in by_users["data"][0]
    curve = fa.capacity_curve_figure(steps)
    assert curve["data"][1]["x"] == pytest.approx([s.throughput_rps for s in steps], abs=1e-3)
    assert curve["data"][1]["customdata"] == list(LEVELS)
    assert curve["layout"]["xaxis"]["title"]["text"] == "achieved requests/s"


def test_subjects_and_endpoint_names_are_escaped(steps):
    figs = fa.endpoint_capacity_figures({f"POST {HOSTILE}": steps, "GET /": steps})
    for fig in figs.values():
        assert fig["data"][0]["name"] == "POST &lt;img src=x onerror=alert(1)&gt;"
        assert "<img" not in json.dumps(fig)
    titled = fa.latency_vs_users_figure(steps, subject=HOSTILE)
    assert "<img" not in json.dumps(titled) and "&lt;img" in titled["layout"]["title"]["text"]


def test_capacity_figures_key_every_chart(steps):
    figs = fa.capacity_figures(steps, endpoint_steps={"GET /": steps})
    assert set(figs) == {
        "cap-throughput",
        "cap-latency",
        "cap-curve",
        "cap-ep-throughput",
        "cap-ep-latency",
        "cap-ep-curve",
    }
    assert set(fa.capacity_figures(steps)) == {"cap-throughput", "cap-latency", "cap-curve"}


def test_compare_overlays_downsample_long_series_and_keep_the_peaks():
    n = 3600
    t = list(range(n))
    rps = [100] * n
    rps[1234] = 900  # one spike in an hour
    p95 = [50.0] * n
    p95[77] = None  # a second without requests: a gap, not a zero
    series = {"t": t, "rps": rps, "p95": p95, "error_pct": [0.0] * n}
    figs = fa.compare_timeseries_figures([HOSTILE, "#2 · b"], [series, series])
    assert set(figs) == {"rps", "p95", "error_pct"}
    for fig in figs.values():
        for trace in fig["data"]:
            assert len(trace["x"]) <= fa.MAX_POINTS
    trace = figs["rps"]["data"][0]
    assert max(trace["y"]) == 900 and 1234 in trace["x"]
    assert None not in figs["p95"]["data"][0]["y"] and 77 not in figs["p95"]["data"][0]["x"]
    assert trace["name"] == "&lt;img src=x onerror=alert(1)&gt;"
    assert figs["rps"]["data"][0]["line"]["color"] != figs["rps"]["data"][1]["line"]["color"]


def test_compare_overlays_keep_short_series_whole():
    series = {"t": [0, 1, 2], "rps": [1, 2, 3], "p95": [5.0, 6.0, 7.0], "error_pct": [0.0, None, 1.5]}
    figs = fa.compare_timeseries_figures(["a"], [series])
    assert figs["rps"]["data"][0]["x"] == [0, 1, 2] and figs["rps"]["data"][0]["y"] == [1, 2, 3]
    assert figs["error_pct"]["data"][0]["x"] == [0, 2]
    empty = fa.compare_timeseries_figures(["b"], [{"t": [], "rps": [], "p95": [], "error_pct": []}])
    assert empty["rps"]["data"][0]["x"] == []


def test_compare_capacity_draws_one_curve_per_run_with_users_in_the_hover():
    capacity = [
        [{"users": 2, "rps": 40.0, "p95_ms": 55.0}, {"users": 8, "rps": 160.0, "p95_ms": 56.0}],
        [{"users": 2, "rps": 40.0, "p95_ms": None}],
    ]
    fig = fa.compare_capacity_figure(["#1 · " + HOSTILE, "#2"], capacity)
    assert [t["x"] for t in fig["data"]] == [[40.0, 160.0], [40.0]]
    assert fig["data"][0]["customdata"] == [2, 8]
    assert fig["data"][1]["y"] == [None]
    assert "<img" not in json.dumps(fig)


def test_equal_step_points_of_two_runs_stay_visible_one_inside_the_other():
    """Two runs with the same numbers (the demo plan run twice): the later run's points are
    drawn on top, so each run has its own symbol and the earlier one a larger marker."""
    steps = [{"users": 2, "rps": 40.0, "p95_ms": 55.0}, {"users": 8, "rps": 160.0, "p95_ms": 56.0}]
    for fig in (
        fa.compare_capacity_figure(["#1", "#2"], [steps, steps]),
        fa.compare_throughput_figure(["#1", "#2"], [steps, steps], [None, None]),
    ):
        first, second = (t["marker"] for t in fig["data"] if t["name"] in ("#1", "#2"))
        assert first["symbol"] != second["symbol"]
        assert first["size"] > second["size"]
        assert first["color"] != second["color"]
    usl = dataclasses.asdict(fit_usl([s["users"] for s in steps] + [14], [s["rps"] for s in steps] + [170.0]))
    fig = fa.compare_throughput_figure(["#1", "#2"], [steps, steps], [usl, usl])
    fits = [t["line"]["dash"] for t in fig["data"] if t["name"].endswith("USL fit")]
    assert len(fits) == 2 and fits[0] != fits[1]


def test_twenty_runs_get_twenty_colours():
    assert len({fa.color(i) for i in range(20)}) == 20


def test_nums_array_equals_num_item_by_item():
    import numpy as np

    from runs.figures.common import num as _num
    from runs.figures.common import nums_array as _nums_array

    rng = np.random.default_rng(3)
    values = np.concatenate(
        [
            rng.lognormal(3, 2, 2000),
            rng.integers(0, 5000, 200).astype(float),
            -rng.random(50),
            [np.nan, np.inf, -np.inf, 0.0, -0.0, 0.0005, 0.0015, 2.675, 1e300, 5e-324],
        ]
    )
    assert _nums_array(values) == [_num(v) for v in values]
    assert _nums_array([]) == []


def test_downsampled_keeps_int_seconds_and_rounded_values():
    import numpy as np

    from runs.core.analysis import downsample_minmax
    from runs.figures.analysis import _downsampled
    from runs.figures.common import num as _num

    rng = np.random.default_rng(4)
    ys = [None if rng.random() < 0.05 else float(v) for v in rng.lognormal(4, 0.5, 3600)]
    for xs in (list(range(3600)), [t + 0.5 for t in range(3600)]):
        x, y = downsample_minmax(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float), 1500)
        want = ([int(v) if float(v).is_integer() else float(v) for v in x], [_num(v) for v in y])
        got = _downsampled(xs, ys, 1500)
        assert got == want
        assert [type(v) for v in got[0]] == [type(v) for v in want[0]]
