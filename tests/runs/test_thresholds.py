"""runs.core.thresholds: the line syntax, the stored JSON, whole-run verdicts and the abort watch (no DB)."""

from __future__ import annotations

import pytest

from runs.core.thresholds import (
    FAILED,
    NOT_EVALUABLE,
    PASSED,
    AbortWatch,
    Observed,
    SecondSample,
    Threshold,
    evaluate,
    overall_passed,
    parse_line,
    parse_thresholds,
    thresholds_text,
)


def test_it_parses_the_documented_examples() -> None:
    items = parse_thresholds(
        "p95 < 500\n"
        "error_rate < 1%   # comments are ignored\n"
        "\n"
        "rps >= 100\n"
        "GET /api/items: p99 < 800 abort 10s\n"
    )
    assert items == [
        Threshold("p95", "<", 500.0),
        Threshold("error_rate", "<", 1.0),
        Threshold("rps", ">=", 100.0),
        Threshold("p99", "<", 800.0, method="GET", name="/api/items", abort_after_seconds=10),
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("p90<=250ms", Threshold("p90", "<=", 250.0)),
        ("max < 1.5s", Threshold("max", "<", 1500.0)),
        ("rps > 20/s", Threshold("rps", ">", 20.0)),
        ("error_rate < 0.5", Threshold("error_rate", "<", 0.5)),
        (
            "post List: items: p50 < 80 abort after 3 seconds",
            Threshold("p50", "<", 80.0, method="POST", name="List: items", abort_after_seconds=3),
        ),
        (
            "GET Home page: error_rate < 2% abort 5s",
            Threshold("error_rate", "<", 2.0, method="GET", name="Home page", abort_after_seconds=5),
        ),
    ],
)
def test_it_parses_units_spacing_and_endpoint_names_with_colons(line: str, expected: Threshold) -> None:
    assert parse_line(line) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("p95 = 500", "a threshold is a bound"),
        ("p95 > 500", "p95 is an upper bound"),
        ("rps < 10", "throughput is a lower bound"),
        ("p96 < 10", "unknown metric “p96”"),
        ("error_rate < 101%", "percentage from 0 to 100"),
        ("p95 < 500 %", "does not fit p95"),
        ("FETCH /x: p95 < 5", "unknown HTTP method"),
        ("p95 < 500 abort 0s", "1 to 3600 seconds"),
        ("p95 < fast", "not a threshold"),
        ("p95 < 5\np95 < 5", "given twice"),
    ],
)
def test_bad_lines_are_refused_with_a_message_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        parse_thresholds("rps >= 1\n" + text)
    assert str(info.value).startswith("Line 2") or "twice" in str(info.value)


def test_the_stored_json_round_trips_and_bad_json_is_refused() -> None:
    items = parse_thresholds("GET /a: p95 < 500 abort 3s\nerror_rate <= 1.5%\nrps >= 12.5")
    stored = [item.to_dict() for item in items]
    assert parse_thresholds(stored) == items
    assert parse_thresholds(thresholds_text(items)) == items
    with pytest.raises(ValueError, match="Threshold 1: value must be a number"):
        parse_thresholds([{"metric": "p95", "op": "<", "value": "500"}])
    with pytest.raises(ValueError, match="both method and name"):
        parse_thresholds([{"metric": "p95", "op": "<", "value": 5, "method": "GET"}])
    with pytest.raises(ValueError, match="unknown keys"):
        parse_thresholds([{"metric": "p95", "op": "<", "value": 5, "evil": 1}])
    with pytest.raises(ValueError, match="must be a list"):
        parse_thresholds({"metric": "p95"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="At most 50"):
        parse_thresholds([{"metric": "p95", "op": "<", "value": i} for i in range(51)])


def test_verdicts_compare_the_whole_run_values_with_each_limit() -> None:
    items = parse_thresholds(
        "p95 < 500\np99 < 100\nerror_rate < 1%\nrps >= 10\n"
        "GET /a: p90 <= 40\nGET /b: p95 < 5\nGET /zzz: p95 < 5"
    )
    overall = Observed(requests=1000, failures=20, seconds=50, percentiles={"p95": 120.0, "p99": 480.0})
    endpoints = {
        ("GET", "/a"): Observed(requests=600, failures=0, seconds=50, percentiles={"p90": 40.0}),
        ("GET", "/b"): Observed(requests=0, failures=0, seconds=50, percentiles={}),
    }
    results = evaluate(items, overall=overall, endpoints=endpoints)
    assert [(r["label"], r["observed"], r["verdict"]) for r in results] == [
        ("p95 < 500 ms", 120.0, PASSED),
        ("p99 < 100 ms", 480.0, FAILED),
        ("error_rate < 1%", 2.0, FAILED),  # 20 / 1000 = 2 %
        ("rps >= 10 req/s", 20.0, PASSED),  # 1000 / 50 s
        ("GET /a: p90 <= 40 ms", 40.0, PASSED),  # <= includes the limit
        ("GET /b: p95 < 5 ms", None, NOT_EVALUABLE),
        ("GET /zzz: p95 < 5 ms", None, NOT_EVALUABLE),
    ]
    assert "no request to this endpoint" in results[-1]["note"]
    assert overall_passed(results) is False
    assert overall_passed([r for r in results if r["verdict"] == PASSED]) is True
    assert overall_passed([]) is None
    # A not-evaluable threshold does not pass: a typo must not turn CI green.
    assert overall_passed([r for r in results if r["verdict"] != FAILED]) is False


def test_the_threshold_that_aborted_the_run_fails_whatever_its_whole_run_value() -> None:
    items = parse_thresholds("p95 < 500 abort 5s")
    overall = Observed(requests=10, failures=0, seconds=10, percentiles={"p95": 100.0})
    [result] = evaluate(items, overall=overall, endpoints={}, aborted_index=0)
    assert result["verdict"] == FAILED and result["aborted"] and result["observed"] == 100.0


def _s(t: int, p95: float | None, requests: int = 10, failures: int = 0) -> SecondSample:
    return SecondSample(
        t=t,
        requests=requests if p95 is not None else 0,
        failures=failures,
        percentiles={"p95": p95, "p50": p95},
    )


def test_the_abort_watch_fires_after_t_consecutive_crossed_seconds_only() -> None:
    watch = AbortWatch(parse_thresholds("p95 < 100 abort 3s\np50 < 1000"))
    assert watch.active
    # Crossed at 0 and 1, passing at 2: the streak restarts.
    assert watch.feed([_s(0, 150), _s(1, 150), _s(2, 50)]) is None
    assert watch.feed([_s(3, 150), _s(4, 200)]) is None
    abort = watch.feed([_s(5, 300), _s(6, 300)])
    assert abort is not None
    assert (abort.index, abort.from_t, abort.to_t, abort.observed) == (0, 3, 5, 300)
    assert abort.message() == "Aborted: p95 < 100 ms crossed for 3 s (t = 3–5 s; last second 300 ms)."


def test_seconds_without_requests_neither_break_nor_extend_a_streak_and_replays_are_ignored() -> None:
    watch = AbortWatch(parse_thresholds("p95 < 100 abort 3s"))
    assert watch.feed([_s(0, 500), _s(1, None)]) is None
    assert watch.feed([_s(0, 10), _s(1, 10)]) is None  # already seen: ignored
    abort = watch.feed([_s(2, 600)])
    assert abort is not None and (abort.from_t, abort.to_t) == (0, 2)


def test_error_rate_and_throughput_are_judged_per_second_and_second_zero_is_skipped_for_rps() -> None:
    watch = AbortWatch(parse_thresholds("error_rate < 10% abort 2s"))
    assert watch.feed([_s(0, 5, requests=10, failures=1)]) is None  # 10 % is not < 10 %
    assert watch.feed([_s(1, 5, requests=10, failures=0)]) is None
    assert watch.feed([_s(2, 5, requests=10, failures=5), _s(3, 5, requests=10, failures=5)]) is not None

    watch = AbortWatch(parse_thresholds("rps >= 100 abort 2s"))
    assert watch.feed([_s(0, None), _s(1, 5, requests=150)]) is None  # t = 0 is a partial second
    assert watch.feed([_s(2, 5, requests=20)]) is None
    abort = watch.feed([_s(3, None)])  # no request at all: 0 req/s
    assert abort is not None and abort.observed == 0.0


def test_endpoint_abort_thresholds_read_their_endpoint_and_a_missing_row_is_no_request() -> None:
    watch = AbortWatch(parse_thresholds("GET /slow: p95 < 100 abort 2s\nGET /a: p95 < 9 abort 2s"))
    assert watch.endpoints() == {("GET", "/slow"), ("GET", "/a")}
    overall = [_s(0, 50), _s(1, 50), _s(2, 50)]
    endpoints = {("GET", "/slow"): [_s(0, 300), _s(2, 300)]}  # no row at t = 1: no request then
    abort = watch.feed(overall, endpoints)
    assert abort is not None and abort.threshold.name == "/slow" and (abort.from_t, abort.to_t) == (0, 2)


def test_a_watch_without_abort_thresholds_is_inactive() -> None:
    assert not AbortWatch(parse_thresholds("p95 < 100\nrps >= 1")).active


@pytest.mark.parametrize(
    ("metric", "observed", "op", "limit", "shown"),
    [
        ("p95", 99.9995, "<", 100.0, "99.999 ms"),  # passed: must not read "100 ms"
        ("p95", 100.0004, "<", 100.0, "100 ms"),  # failed, and 100 < 100 is false: enough
        ("p95", 42.123, "<", 100.0, "42.12 ms"),  # far from the limit: the usual four digits
        ("rps", 49.99996, ">=", 50.0, "49.99996 req/s"),  # failed: must not read "50"
        ("error_rate", 0.99999, "<", 1.0, "0.99999%"),
        ("p99", 1234.56, "<=", 1234.6, "1234.6 ms"),  # above 100: one decimal agrees (1234.6 <= 1234.6)
        ("p99", 1234.64, "<=", 1234.6, "1234.64 ms"),
    ],
)
def test_an_observed_value_is_shown_with_the_digits_its_verdict_needs(
    metric: str, observed: float, op: str, limit: float, shown: str
) -> None:
    from runs.core.thresholds import format_observed

    assert format_observed(metric, observed, op=op, limit=limit) == shown


def test_a_limit_is_shown_as_written() -> None:
    from runs.core.thresholds import format_limit

    assert format_limit("p95", 99.995) == "99.995 ms" and format_limit("error_rate", 0.5) == "0.5%"
