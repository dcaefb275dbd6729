"""runs.figures.runs: pure builders, no database."""

from __future__ import annotations

import json

from runs.figures import common
from runs.figures import runs as figures

HOSTILE = "<img src=x onerror=alert(1)>"


def rows() -> list[dict]:
    return [
        {"t": 1, "users": 4, "requests": 30, "failures": 1, "p50_ms": 10.5, "p95_ms": 20.0, "p99_ms": 31.25},
        {"t": 0, "users": 2, "requests": 10, "failures": 0, "p50_ms": 9.0, "p95_ms": 15.0, "p99_ms": 18.0},
        {"t": 2, "users": 4, "requests": 0, "failures": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None},
    ]


def test_series_are_sorted_by_second_and_keep_gaps_for_idle_seconds():
    s = figures.series_from_rows(rows())
    assert s["t"] == [0, 1, 2]
    assert s["rps"] == [10, 30, 0]
    assert s["failures"] == [0, 1, 0]
    assert s["users"] == [2, 4, 4]
    assert s["p95"] == [15.0, 20.0, None]
    assert s["p99"] == [18.0, 31.25, None]


def test_run_figures_have_the_traces_the_live_page_extends():
    figs = figures.run_figures(rows(), planned=([0, 5], [4, 4]))
    assert set(figs) == set(figures.TIMESERIES_CHARTS)
    for key, series in figures.TIMESERIES_CHARTS.items():
        data = figs[key]["data"]
        assert len(data) >= len(series)
        for trace in data[: len(series)]:
            assert trace["x"] == [0, 1, 2]
    latency = figs["latency"]
    assert [t["name"] for t in latency["data"]] == ["p50", "p95", "p99"]
    assert latency["data"][1]["y"] == [15.0, 20.0, None]
    assert latency["layout"]["yaxis"]["title"]["text"] == "ms"
    assert latency["layout"]["xaxis"]["title"]["text"] == "Seconds since start"
    users = figs["users"]["data"]
    assert users[0]["y"] == [2, 4, 4]
    assert users[1]["name"] == "planned" and users[1]["x"] == [0, 5]
    assert figs["rps"]["data"][0]["y"] == [10, 30, 0]
    assert figs["failures"]["data"][0]["y"] == [0, 1, 0]


def test_figures_are_small_plain_json_without_a_template():
    figs = figures.run_figures(rows())
    text = json.dumps(figs)
    assert "template" not in text
    assert len(text) < 6000


def test_empty_data_gives_empty_traces_not_errors():
    figs = figures.run_figures([])
    for fig in figs.values():
        assert all(trace["x"] == [] and trace["y"] == [] for trace in fig["data"])
    assert figures.endpoints_figure([])["data"][0]["y"] == []
    assert figures.profile_figure([], [])["data"][0]["x"] == []


def test_hostile_names_are_escaped_in_titles_and_trace_labels():
    figs = figures.run_figures(rows(), subject=HOSTILE)
    title = figs["latency"]["layout"]["title"]["text"]
    assert "<img" not in title
    assert "&lt;img src=x onerror=alert(1)&gt;" in title
    endpoints = figures.endpoints_figure(
        [{"method": "GET", "name": HOSTILE, "p50_ms": 1, "p95_ms": 2, "p99_ms": 3}]
    )
    assert endpoints["data"][0]["y"] == ["GET &lt;img src=x onerror=alert(1)&gt;"]
    profile = figures.profile_figure([0, 1], [1, 1], subject='"quoted" & <b>bold</b>')
    assert profile["layout"]["title"]["text"].endswith("&quot;quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt;")
    assert "<" not in json.dumps([figs, endpoints, profile]).replace("\\u003c", "")


def test_esc_escapes_quotes_and_handles_none():
    assert common.esc("a'b\"c&<>") == "a&#x27;b&quot;c&amp;&lt;&gt;"
    assert common.esc(None) == ""


def test_endpoints_figure_groups_percentiles_per_endpoint():
    fig = figures.endpoints_figure(
        [
            {"method": "GET", "name": "/a", "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0},
            {"method": "POST", "name": "/b", "p50_ms": None, "p95_ms": 5.0, "p99_ms": 6.0},
        ]
    )
    assert [t["name"] for t in fig["data"]] == ["p50", "p95", "p99"]
    assert fig["data"][0]["x"] == [1.0, None]
    assert fig["data"][2]["y"] == ["GET /a", "POST /b"]
    assert fig["layout"]["barmode"] == "group"


def test_non_finite_numbers_become_gaps():
    s = figures.series_from_rows(
        [
            {
                "t": 0,
                "users": 1,
                "requests": 1,
                "failures": 0,
                "p50_ms": float("nan"),
                "p95_ms": float("inf"),
                "p99_ms": 2,
            }
        ]
    )
    assert s["p50"] == [None] and s["p95"] == [None] and s["p99"] == [2]


def test_the_profile_figure_of_an_arrival_rate_is_labelled_in_iterations_per_second() -> None:
    fig = figures.profile_figure([0, 10], [5, 45], unit="iterations/s")
    assert fig["layout"]["title"]["text"] == "Planned arrival rate"
    assert fig["layout"]["yaxis"]["title"]["text"] == "iterations/s"
    assert fig["data"][0]["name"] == "planned iterations/s"
    assert figures.profile_figure([0], [1])["layout"]["yaxis"]["title"]["text"] == "users"


def test_an_arrival_rate_run_draws_its_plan_on_the_requests_chart_and_shows_dropped_iterations():
    rows = [
        {"t": 0, "users": 5, "requests": 10, "failures": 0, "dropped_iterations": 30},
        {"t": 1, "users": 5, "requests": 10, "failures": 1, "dropped_iterations": 29},
    ]
    planned = ([0.0, 2.0], [40.0, 40.0])
    figs = figures.run_figures(rows, planned=planned, open_model=True)
    assert [tr["name"] for tr in figs["rps"]["data"]] == ["requests/s", "planned iterations/s"]
    assert figs["rps"]["data"][1]["y"] == [40.0, 40.0]
    assert [tr["name"] for tr in figs["users"]["data"]] == ["in flight"]
    dropped = figs["failures"]["data"][1]
    assert dropped["y"] == [30, 29] and "visible" not in dropped


def test_a_closed_model_run_keeps_its_plan_on_the_users_chart_and_hides_the_dropped_trace():
    rows = [{"t": 0, "users": 3, "requests": 10, "failures": 0}]
    figs = figures.run_figures(rows, planned=([0.0, 1.0], [3.0, 3.0]))
    assert [tr["name"] for tr in figs["users"]["data"]] == ["users", "planned"]
    assert [tr["name"] for tr in figs["rps"]["data"]] == ["requests/s"]
    assert figs["failures"]["data"][1]["visible"] == "legendonly"
    # The live page extends exactly the traces TIMESERIES_CHARTS lists, in order.
    for key, series in figures.TIMESERIES_CHARTS.items():
        assert len(figs[key]["data"]) >= len(series)
