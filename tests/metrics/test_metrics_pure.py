"""Pure parts of server-side metrics: expressions, the text format, range answers, step statistics."""

from __future__ import annotations

import json

import pytest

from runs.core.metrics import prometheus
from runs.core.metrics.scrape import ScrapeError, evaluate_series, parse_page
from runs.core.metrics.series import (
    NODE_EXPORTER_SCRAPE,
    SeriesSpec,
    parse_expression,
    parse_series_text,
    preset_series,
    series_text,
)
from runs.core.metrics.steps import SeriesInfo, latency_tracking, saturated, step_values

PAGE_1 = """# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 100
node_cpu_seconds_total{cpu="0",mode="user"} 10
node_cpu_seconds_total{cpu="1",mode="idle"} 100
node_cpu_seconds_total{cpu="1",mode="user"} 20
# TYPE node_memory_MemTotal_bytes gauge
node_memory_MemTotal_bytes 8e+09
# TYPE node_memory_MemAvailable_bytes gauge
node_memory_MemAvailable_bytes 6e+09
# TYPE node_load1 gauge
node_load1 0.5
# TYPE node_network_receive_bytes_total counter
node_network_receive_bytes_total{device="lo"} 1000
node_network_receive_bytes_total{device="eth0"} 5000
# TYPE node_network_transmit_bytes_total counter
node_network_transmit_bytes_total{device="eth0"} 7000
# TYPE node_filefd_allocated gauge
node_filefd_allocated 1234
"""
# Two seconds later: 2 CPUs × 2 s = 4 CPU-seconds, of which 1.5 s idle.
PAGE_2 = (
    PAGE_1.replace('cpu="0",mode="idle"} 100', 'cpu="0",mode="idle"} 101')
    .replace('cpu="1",mode="idle"} 100', 'cpu="1",mode="idle"} 100.5')
    .replace('cpu="0",mode="user"} 10', 'cpu="0",mode="user"} 11')
    .replace('cpu="1",mode="user"} 20', 'cpu="1",mode="user"} 21.5')
    .replace('device="eth0"} 5000', 'device="eth0"} 9000')
    .replace('device="lo"} 1000', 'device="lo"} 999999')
)


def test_it_parses_expressions_with_rates_matchers_operators_and_scale() -> None:
    expr = parse_expression(
        'rate(node_cpu_seconds_total{mode!="idle", cpu="0"}) / rate(node_cpu_seconds_total) * 100'
    )
    assert expr.left.rate and expr.right is not None and expr.right.rate
    assert expr.left.selector.matchers == (("mode", "!=", "idle"), ("cpu", "=", "0"))
    assert (expr.op, expr.scale) == ("/", 100.0)
    assert parse_expression("demo_slots_busy").left.selector.metric == "demo_slots_busy"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("sum(x)", "metric name"),
        ('x{mode~"a"}', "label matcher"),
        ("x * lots", "only a number"),
    ],
)
def test_it_refuses_bad_expressions_saying_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_expression(text)


def test_it_reads_series_lines_and_writes_them_back() -> None:
    series = parse_series_text(
        "# the pool\nslots_busy | demo_slots_busy | slots | 8\nload | node_load1", kind="scrape"
    )
    assert series == [
        SeriesSpec("slots_busy", "demo_slots_busy", "slots", 8.0),
        SeriesSpec("load", "node_load1"),
    ]
    assert parse_series_text(series_text(series), kind="scrape") == series
    with pytest.raises(ValueError, match="used twice"):
        parse_series_text("a | x\na | y", kind="scrape")
    with pytest.raises(ValueError, match="limit"):
        parse_series_text("a | x | % | -3", kind="scrape")
    with pytest.raises(ValueError, match="line 1"):
        parse_series_text("just a name", kind="scrape")
    # PromQL is the server's to judge: anything non-empty is kept as written.
    assert parse_series_text("cpu | sum(rate(x[1m])) | % | 100%", kind="prometheus")[0].limit == 100.0


def test_node_exporter_preset_gives_the_host_view_from_two_scrapes() -> None:
    first, second = parse_page(PAGE_1, at=10.0), parse_page(PAGE_2, at=12.0)
    assert evaluate_series(NODE_EXPORTER_SCRAPE, first, None) == {
        "cpu_busy": None,  # a rate needs two scrapes
        "memory_used": 2e9,
        "load1": 0.5,
        "network_rx": None,
        "network_tx": None,
        "open_fds": 1234.0,
    }
    values = evaluate_series(NODE_EXPORTER_SCRAPE, second, first)
    assert values["cpu_busy"] == pytest.approx(100 * 2.5 / 4)
    assert values["network_rx"] == pytest.approx(2000.0)  # lo is left out
    assert values["network_tx"] == 0.0
    assert {s.name for s in preset_series("node_exporter", "prometheus")} == {
        s.name for s in NODE_EXPORTER_SCRAPE
    }


def test_a_counter_reset_gives_no_rate_rather_than_a_negative_one() -> None:
    spec = [SeriesSpec("served", "rate(demo_requests_served_total)")]
    before = parse_page("demo_requests_served_total 500\n", at=1.0)
    after = parse_page("demo_requests_served_total 20\n", at=2.0)
    assert evaluate_series(spec, after, before) == {"served": None}


def test_it_refuses_a_page_that_is_not_the_text_format() -> None:
    with pytest.raises(ScrapeError, match="Prometheus text format"):
        parse_page("<html><body>Login</body></html>\n", at=0.0)


def test_range_answers_become_values_per_run_second_summed_over_instances() -> None:
    body = json.dumps(
        {
            "status": "success",
            "data": {
                "resultType": "matrix",
                "result": [
                    {"metric": {"instance": "a"}, "values": [[1000.0, "1"], [1001.0, "2"], [1002.0, "NaN"]]},
                    {"metric": {"instance": "b"}, "values": [[1001.0, "5"]]},
                ],
            },
        }
    )
    assert prometheus.parse_range(body, start_epoch=1000.0) == {0: 1.0, 1: 7.0}
    with pytest.raises(prometheus.PrometheusError, match="bad_data"):
        prometheus.parse_range(
            '{"status": "error", "errorType": "bad_data", "error": "parse error"}', start_epoch=0
        )
    with pytest.raises(prometheus.PrometheusError, match="not JSON"):
        prometheus.parse_range("<html>", start_epoch=0)
    path = prometheus.range_path("http://p:9090/prom/", 'up{job="x"}', start=10, end=20, step=1)
    assert path.startswith(
        "/prom/api/v1/query_range?query=up%7Bjob%3D%22x%22%7D&start=10.000&end=20.000&step=1"
    )
    assert prometheus.range_step(0, 100) == 1 and prometheus.range_step(0, 100_000) == 10


def test_steady_values_per_step_leave_gaps_out() -> None:
    points = {0: 1.0, 1: 3.0, 2: None, 5: 10.0, 6: 12.0}
    assert step_values(points, [(0, 2), (5, 6), (8, 9)]) == [2.0, 11.0, None]


SLOTS = SeriesInfo("demo target.slots_busy", "demo target", "slots_busy", "slots", 8.0)
QUEUE = SeriesInfo("demo target.queue_length", "demo target", "queue_length", "requests")
CPU = SeriesInfo("host.cpu", "host", "cpu", "%", None)


def test_the_series_at_its_limit_at_the_knee_is_named_as_a_person_says_it() -> None:
    users = [2, 6, 10, 14]
    latency = [50, 51, 62, 88]
    values = {SLOTS.key: [2.0, 6.0, 7.9, 8.0], QUEUE.key: [0.0, 0.0, 2.0, 6.0], CPU.key: [10, 30, 40, 40.5]}
    found = saturated([SLOTS, QUEUE, CPU], values, users, latency, knee_index=2)
    assert [s.key for s in found] == [SLOTS.key, CPU.key]
    # The highest steady value at or past the knee is the one shown.
    assert found[0].phrase == "demo target's 8 slots are all busy (8/8)"
    assert found[1].how == "flat" and "stops rising at 40 %" in found[1].phrase
    # Full from the lowest load on: the load did not fill it, so it is not named.
    hot = SeriesInfo("host.cpu", "host", "cpu", "%", 100.0)
    assert saturated([hot], {hot.key: [99.0, 100.0, 100.0, 100.0]}, users, latency, knee_index=2) == []
    # Below the limit and still rising at the knee: nothing is named.
    assert saturated([SLOTS], {SLOTS.key: [1.0, 2.0, 3.0, 4.0]}, users, latency, knee_index=2) == []


def test_series_are_ranked_by_how_well_they_track_latency() -> None:
    latency = [50.0, 52.0, 80.0, 120.0]
    values: dict[str, list[float | None]] = {
        "queue": [0.0, 0.2, 3.0, 7.0],
        "cpu": [10.0, 30.0, 40.0, 41.0],
        "flat": [5.0, 5.0, 5.0, 5.0],
        "short": [1.0, None, None, None],
    }
    ranked = latency_tracking(values, latency)
    assert [k for k, _ in ranked] == ["queue", "cpu"]
    assert ranked[0][1] > 0.99


def test_server_analysis_names_the_full_pool_at_the_knee_step() -> None:
    from runs.core.metrics.steps import StepLoad, server_analysis, sustained_extremes

    steps = [
        StepLoad(2, 0, 9, 40.0, 50.0),
        StepLoad(6, 10, 19, 120.0, 50.5),
        StepLoad(10, 20, 29, 160.0, 62.0),
        StepLoad(14, 30, 39, 160.0, 87.0),
    ]
    busy = {t: [2.0, 6.0, 8.0, 8.0][t // 10] for t in range(40)}
    del busy[25]  # a missed scrape: left out of the step's mean
    out = server_analysis(
        [SLOTS], {SLOTS.key: busy}, steps, knee_status="knee", knee_users=8.0, saturated_users=10.0
    )
    assert out["sentence"] == "At ~8 users the demo target's 8 slots are all busy (8/8)."
    assert [s["values"][SLOTS.key] for s in out["steps"]] == [2.0, 6.0, 8.0, 8.0]
    # No knee, no sentence (and nothing is claimed saturated).
    calm = server_analysis(
        [SLOTS], {SLOTS.key: busy}, steps, knee_status="no_knee", knee_users=None, saturated_users=None
    )
    assert calm["sentence"] == "" and calm["saturated"] == []
    # Sustained extremes ignore a one-second blip.
    blip = {t: 1.0 for t in range(10)} | {2: 90.0}
    assert sustained_extremes(blip) == (pytest.approx(18.8), 1.0)
    assert sustained_extremes({0: 3.0, 1: 5.0}) == (4.0, 4.0)
    assert sustained_extremes({}) == (None, None)


def test_thresholds_may_name_a_server_series_judged_on_its_sustained_value() -> None:
    from runs.core import thresholds

    items = thresholds.parse_thresholds(
        "server:cpu_busy < 80%\nserver: demo target.slots_busy <= 8\n"
        "server:served_rate >= 100 req/s\nserver:nope < 1"
    )
    assert [t.metric for t in items] == [
        "server:cpu_busy",
        "server:demo target.slots_busy",
        "server:served_rate",
        "server:nope",
    ]
    assert thresholds.parse_thresholds([t.to_dict() for t in items]) == items
    assert thresholds.parse_thresholds(thresholds.thresholds_text(items)) == items
    with pytest.raises(ValueError, match="cannot abort"):
        thresholds.parse_thresholds("server:cpu_busy < 80 abort 5s")
    with pytest.raises(ValueError, match="name the server series"):
        thresholds.parse_thresholds("server: < 80")
    overall = thresholds.Observed(requests=10, failures=0, seconds=1.0)
    results = thresholds.evaluate(
        items,
        overall=overall,
        endpoints={},
        server={
            "host.cpu_busy": (85.0, 10.0),
            "demo target.slots_busy": (8.0, 1.0),
            "demo target.served_rate": (150.0, 120.0),
        },
    )
    assert [r["verdict"] for r in results] == ["failed", "passed", "passed", "not_evaluable"]
    assert results[0]["observed"] == 85.0 and results[2]["observed"] == 120.0  # lower bound: the lowest
    assert results[3]["note"] == "no server series of that name in this run"
    assert results[0]["label"] == "server:cpu_busy < 80"


def test_promql_regex_alternation_survives_the_series_lines() -> None:
    line = 'cpu | sum(rate(node_cpu_seconds_total{mode=~"user|system"}[1m])) | % | 100'
    [spec] = parse_series_text(line, kind="prometheus")
    assert spec.expr == 'sum(rate(node_cpu_seconds_total{mode=~"user|system"}[1m]))'
    assert parse_series_text(series_text([spec]), kind="prometheus") == [spec]
