"""Distributed runs without processes: the master's merge, the protocol additions, the figures.

The merge must be exact: a second merged from several generators carries the same histogram
(and so the same percentiles) as one process that recorded every sample itself.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from runs.core.engine import protocol
from runs.core.engine.merge import SecondMerger, merge_seconds
from runs.core.histogram import Histogram
from runs.figures import runs as figures

START = 1_760_000_000


def _second(
    epoch: int,
    samples_ms: list[float],
    *,
    users: int = 2,
    cpu: float | None = 40.0,
    name: str = "/a",
    failures: int = 0,
    errors: int = 0,
) -> dict:
    hist = Histogram()
    for v in samples_ms:
        hist.record_ms(v)
    return {
        "type": "second",
        "epoch": epoch,
        "users": users,
        "cpu_percent": cpu,
        "dropped_iterations": 0,
        "endpoints": [
            {
                "method": "GET",
                "name": name,
                "requests": len(samples_ms),
                "failures": failures,
                "bytes": 3 * len(samples_ms),
                "histogram": hist.to_dict(),
            }
        ]
        if samples_ms
        else [],
        "errors": [
            {
                "method": "GET",
                "name": name,
                "error_class": "UnexpectedStatus",
                "message": "HTTP 503",
                "count": errors,
            }
        ]
        if errors
        else [],
    }


# -- exact merge ----------------------------------------------------------------------------
def test_a_merged_second_has_exactly_the_percentiles_of_one_process_recording_everything() -> None:
    rng = random.Random(7)
    a = [rng.lognormvariate(3, 0.8) for _ in range(3000)]
    b = [rng.lognormvariate(4, 0.5) for _ in range(1000)]  # a slower generator: shifts p95/p99
    single = Histogram()
    for v in a + b:
        single.record_ms(v)

    merged = merge_seconds(START, [(0, _second(START, a)), (1, _second(START, b))])
    parsed = protocol.parse_line(json.dumps(merged))

    assert isinstance(parsed, protocol.SecondMessage)
    (endpoint,) = parsed.endpoints
    assert endpoint.requests == 4000 and endpoint.bytes == 12000
    assert endpoint.decoded().counts == single.counts
    for q in (50, 90, 95, 99, 99.9, 100):
        assert endpoint.decoded().percentile_ms(q) == single.percentile_ms(q)


def test_a_merged_second_adds_users_errors_and_keeps_each_generators_share_and_the_busiest_cpu() -> None:
    merged = merge_seconds(
        START,
        [
            (1, _second(START, [10.0] * 5, users=3, cpu=95.0, failures=2, errors=2)),
            (0, _second(START, [10.0] * 7, users=4, cpu=30.0, failures=1, errors=1)),
        ],
    )
    assert merged["users"] == 7
    assert merged["cpu_percent"] == 95.0
    assert merged["errors"] == [
        {"method": "GET", "name": "/a", "error_class": "UnexpectedStatus", "message": "HTTP 503", "count": 3}
    ]
    assert merged["generators"] == [
        {"index": 0, "requests": 7, "failures": 1, "cpu_percent": 30.0},
        {"index": 1, "requests": 5, "failures": 2, "cpu_percent": 95.0},
    ]


# -- when seconds are released -----------------------------------------------------------------
def test_a_second_is_released_only_once_every_generator_has_passed_it() -> None:
    merger = SecondMerger(2, start=START)
    merger.add(0, [_second(START, [1.0]), _second(START + 1, [1.0])], through=START + 2)
    assert merger.ready(now=START + 2) == []  # generator 1 has not reported yet

    merger.add(1, [_second(START, [2.0, 2.0])], through=START + 1)
    out = merger.ready(now=START + 2)

    assert [m["epoch"] for m in out] == [START]
    assert out[0]["endpoints"][0]["requests"] == 3
    assert merger.ready(now=START + 2) == []  # never twice


def test_a_silent_generator_holds_seconds_back_only_for_the_lag() -> None:
    merger = SecondMerger(2, start=START, lag=5)
    merger.add(0, [_second(START + i, [1.0]) for i in range(8)], through=START + 8)
    assert merger.ready(now=START + 4) == []
    assert [m["epoch"] for m in merger.ready(now=START + 7)] == [START, START + 1]


def test_a_dropped_generator_is_no_longer_waited_for() -> None:
    merger = SecondMerger(2, start=START)
    merger.add(0, [_second(START, [1.0]), _second(START + 1, [1.0])], through=START + 2)
    merger.drop(1)
    assert [m["epoch"] for m in merger.ready(now=START + 2)] == [START, START + 1]


def test_late_data_for_a_released_second_goes_out_again_and_nothing_is_lost() -> None:
    merger = SecondMerger(2, start=START, lag=1)
    merger.add(0, [_second(START, [1.0])], through=START + 1)
    first = merger.ready(now=START + 2)  # released without generator 1 (lag)
    merger.add(1, [_second(START, [2.0, 2.0])], through=START + 1)
    again = merger.ready(now=START + 2)

    assert [m["epoch"] for m in first] == [START]
    assert [m["epoch"] for m in again] == [START]
    assert sum(m["endpoints"][0]["requests"] for m in first + again if m["endpoints"]) == 3


def test_flush_releases_everything_held_and_empty_seconds_up_to_the_end() -> None:
    merger = SecondMerger(2, start=START)
    merger.add(0, [_second(START + 3, [1.0])], through=None)
    out = merger.flush(until=START + 2)
    assert [m["epoch"] for m in out] == [START, START + 1, START + 2, START + 3]
    assert out[-1]["endpoints"][0]["requests"] == 1


def test_a_generator_clock_slightly_behind_the_start_is_folded_into_the_first_second() -> None:
    merger = SecondMerger(1, start=START)
    merger.add(0, [_second(START - 1, [1.0]), _second(START, [1.0])], through=START + 1)
    (first,) = merger.ready(now=START + 1)
    assert first["epoch"] == START and first["endpoints"][0]["requests"] == 2


# -- protocol ---------------------------------------------------------------------------------
def test_the_master_message_and_generator_figures_parse() -> None:
    assert protocol.parse_line('{"type":"master","port":41234}') == protocol.MasterMessage(port=41234)
    msg = protocol.parse_line(json.dumps(merge_seconds(START, [(0, _second(START, [1.0]))])))
    assert isinstance(msg, protocol.SecondMessage)
    assert msg.generators == (protocol.GeneratorFigures(index=0, requests=1, failures=0, cpu_percent=40.0),)
    assert protocol.parse_line(protocol.encode(protocol.MasterMessage(port=5))) == protocol.MasterMessage(
        port=5
    )


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"type":"master","port":0}', "port must be >= 1"),
        ('{"type":"master","port":70000}', "port must be <= 65535"),
        ('{"type":"master"}', "port must be an integer"),
    ],
)
def test_a_bad_master_message_is_refused(line: str, reason: str) -> None:
    with pytest.raises(protocol.ProtocolError, match=reason):
        protocol.parse_line(line)


@pytest.mark.parametrize(
    ("generator", "reason"),
    [
        ({"index": -1, "requests": 1, "failures": 0}, "index must be >= 0"),
        ({"index": 0, "requests": 1, "failures": 2}, "generator failures exceed requests"),
        ({"index": 0, "requests": 1, "failures": 0, "cpu_percent": "hot"}, "cpu_percent must be"),
        ("generator 0", "a generator must be an object"),
    ],
)
def test_bad_generator_figures_are_refused(generator: object, reason: str) -> None:
    data = {**_second(START, [1.0]), "generators": [generator]}
    with pytest.raises(protocol.ProtocolError, match=reason):
        protocol.parse_line(json.dumps(data))


# -- figures ----------------------------------------------------------------------------------
ROWS: list[dict[str, Any]] = [
    {"generator": 1, "t": 1, "requests": 90, "failures": 0, "cpu_percent": 99.0},
    {"generator": 0, "t": 0, "requests": 100, "failures": 0, "cpu_percent": 40.0},
    {"generator": 1, "t": 0, "requests": 80, "failures": 0, "cpu_percent": 97.5},
    {"generator": 0, "t": 1, "requests": 110, "failures": 1, "cpu_percent": None},
]


def test_generator_figures_draw_one_line_per_generator_and_the_cpu_limit() -> None:
    figs = figures.generators_figures(ROWS)
    rps, cpu = figs["rps"]["data"], figs["cpu"]["data"]
    assert [t["name"] for t in rps] == ["generator 0", "generator 1"]
    assert rps[0]["x"] == [0, 1] and rps[0]["y"] == [100, 110] and rps[1]["y"] == [80, 90]
    assert cpu[0]["y"] == [40.0, None]  # a second without a CPU sample is a gap, not 0
    assert cpu[-1]["y"] == [figures.GENERATOR_CPU_LIMIT] * 2
    json.dumps(figs)


def test_the_saturated_generator_is_named() -> None:
    assert figures.saturated_generators(ROWS) == [{"generator": 1, "cpu_max": 99.0, "seconds": 2}]
    assert figures.saturated_generators(ROWS[1:2]) == []


def test_generator_figure_titles_escape_the_subject() -> None:
    figs = figures.generators_figures(ROWS, subject="<b>x</b>")
    assert "<b>" not in figs["rps"]["layout"]["title"]["text"]
    assert "&lt;b&gt;" in figs["cpu"]["layout"]["title"]["text"]
