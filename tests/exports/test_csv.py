"""The CSV builder, without a database."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
from collections.abc import Iterator
from typing import Any

from runs.core.exports.csv import ALL_ENDPOINTS, COLUMNS, csv_chunks, safe_cell
from runs.views.exports import export_filename

START = dt.datetime(2026, 11, 25, 10, 0, 0, tzinfo=dt.UTC)


def second(t: int, requests: int = 10, dropped: int = 0) -> tuple[Any, ...]:
    # t, requests, failures, bytes, p50, p95, p99, max, users, dropped_iterations
    return (t, requests, 1, 800 * requests, 10.0, 20.5, 30.25, 41.0, 5, dropped)


def endpoint(t: int, name: str, method: str = "GET", requests: int = 5) -> tuple[Any, ...]:
    # t, method, name, requests, failures, bytes, p50, p95, p99, max
    return (
        t,
        method,
        name,
        requests,
        0,
        100 * requests,
        9.0,
        19.0,
        29.0,
        40.123456,
    )


def parse(chunks: Iterator[str]) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO("".join(chunks))))


def test_it_writes_each_seconds_all_endpoints_row_before_its_endpoint_rows() -> None:
    rows = parse(
        csv_chunks(
            seconds=[second(0), second(1), second(2)],
            endpoint_seconds=[endpoint(0, "/a"), endpoint(0, "/b"), endpoint(2, "/a")],
            started_at=START,
            open_model=False,
        )
    )
    assert [(r["t"], r["method"], r["name"]) for r in rows] == [
        ("0", "", ALL_ENDPOINTS),
        ("0", "GET", "/a"),
        ("0", "GET", "/b"),
        ("1", "", ALL_ENDPOINTS),
        ("2", "", ALL_ENDPOINTS),
        ("2", "GET", "/a"),
    ]
    assert list(rows[0]) == list(COLUMNS)
    overall, ep = rows[0], rows[1]
    assert overall["requests"] == "10" and overall["rps"] == "10.0" and overall["bytes"] == "8000"
    assert (overall["p50_ms"], overall["p95_ms"], overall["p99_ms"], overall["max_ms"]) == (
        "10.0",
        "20.5",
        "30.25",
        "41.0",
    )
    assert overall["users"] == "5"
    assert ep["users"] == "" and ep["dropped_iterations"] == ""
    assert ep["max_ms"] == "40.123456"  # as stored


def test_timestamps_are_iso_seconds_after_the_start_and_empty_without_a_start() -> None:
    rows = parse(
        csv_chunks(seconds=[second(0), second(61)], endpoint_seconds=[], started_at=START, open_model=False)
    )
    assert [r["timestamp"] for r in rows] == [
        "2026-11-25T10:00:00.000+00:00",
        "2026-11-25T10:01:01.000+00:00",
    ]
    assert dt.datetime.fromisoformat(rows[1]["timestamp"]) == START + dt.timedelta(seconds=61)
    rows = parse(csv_chunks(seconds=[second(0)], endpoint_seconds=[], started_at=None, open_model=False))
    assert rows[0]["timestamp"] == ""


def test_dropped_iterations_are_shown_for_open_model_runs_only() -> None:
    closed = parse(
        csv_chunks(seconds=[second(0, dropped=0)], endpoint_seconds=[], started_at=START, open_model=False)
    )
    open_ = parse(
        csv_chunks(seconds=[second(0, dropped=7)], endpoint_seconds=[], started_at=START, open_model=True)
    )
    assert closed[0]["dropped_iterations"] == ""
    assert open_[0]["dropped_iterations"] == "7"


def test_missing_percentiles_are_empty_cells() -> None:
    rows = parse(
        csv_chunks(
            seconds=[(0, 0, 0, 0, None, None, None, None, 3, 0)],
            endpoint_seconds=[],
            started_at=START,
            open_model=False,
        )
    )
    assert rows[0]["p95_ms"] == "" and rows[0]["requests"] == "0"


def test_endpoint_names_that_start_a_formula_get_a_leading_apostrophe() -> None:
    hostile = ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR", "/ok", "a=b"]
    rows = parse(
        csv_chunks(
            seconds=[second(0)],
            endpoint_seconds=[endpoint(0, n) for n in sorted(hostile)],
            started_at=START,
            open_model=False,
        )
    )
    names = {r["name"] for r in rows[1:]}
    assert names == {
        '\'=HYPERLINK("http://evil","x")',
        "'+1+1",
        "'-2+3",
        "'@SUM(A1)",
        "'\tTAB",
        "'\rCR",
        "/ok",
        "a=b",
    }
    assert not any(n.startswith(("=", "+", "-", "@")) for n in names)
    # The method column is text too.
    rows = parse(
        csv_chunks(
            seconds=[],
            endpoint_seconds=[endpoint(0, "/x", method="=cmd")],
            started_at=START,
            open_model=False,
        )
    )
    assert rows[0]["method"] == "'=cmd"


def test_safe_cell_leaves_numbers_alone() -> None:
    assert safe_cell(-5) == -5 and safe_cell(-1.5) == -1.5 and safe_cell("") == ""


def test_names_with_quotes_commas_and_newlines_round_trip() -> None:
    name = 'a,"b"\nc'
    rows = parse(
        csv_chunks(seconds=[], endpoint_seconds=[endpoint(0, name)], started_at=START, open_model=False)
    )
    assert rows[0]["name"] == name


def test_it_streams_without_reading_all_rows_first() -> None:
    """An endless row source still yields its first chunks: nothing is built in memory."""
    endless = ((t, "GET", "/e", 1, 0, 1, 1.0, 1.0, 1.0, 1.0) for t in itertools.count())
    chunks = csv_chunks(
        seconds=[], endpoint_seconds=endless, started_at=START, open_model=False, rows_per_chunk=100
    )
    head = next(chunks)
    first = next(chunks)
    assert head.startswith("t,timestamp,method,name,")
    assert first.count("\r\n") == 100


def test_export_filename_is_ascii_with_the_plan_slug() -> None:
    assert export_filename(run_id=7, plan_name="Checkout <b>v2</b> ünïcode", ext="html") == (
        "scaletest-run-7-checkout-bv2b-unicode.html"
    )
    assert export_filename(run_id=8, plan_name="<>", ext="csv") == "scaletest-run-8-run.csv"
