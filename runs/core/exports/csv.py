"""The per-second series of a run as CSV: one row per (second, endpoint), each second's
all-endpoints row first.

Pure module. Rows come in as tuples (``SECOND_FIELDS``, ``ENDPOINT_SECOND_FIELDS``), both
ordered by ``t``, and go out as text chunks: a one-hour, 100-endpoint run (360,000 rows) is
never held in memory. Text cells that a spreadsheet would run as a formula get a leading
apostrophe (OWASP "CSV injection"). The target's server series follow the load rows: method
``server``, name ``<source>.<series>``, their value in the last column, ``value``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from runs.core import rollup

# Columns of the rows this module reads (the selector asks the database for exactly these).
SECOND_FIELDS = (
    "t",
    "requests",
    "failures",
    "bytes",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "users",
    "dropped_iterations",
)
ENDPOINT_SECOND_FIELDS = (
    "t",
    "method",
    "name",
    "requests",
    "failures",
    "bytes",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
)

COLUMNS = (
    "t",
    "timestamp",
    "method",
    "name",
    "requests",
    "failures",
    "rps",
    "bytes",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "users",
    "dropped_iterations",
    "value",
)
SERVER = "server"  # the method of a server series' rows; their name is "<source>.<series>"
ALL_ENDPOINTS = "(all endpoints)"  # the name of each second's all-endpoints row (its method is empty)
INTERVAL_SECONDS = 1
ROWS_PER_CHUNK = 500

# A cell starting with one of these is a formula (or becomes one) in Excel, LibreOffice, Sheets.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value``, with a leading apostrophe when it is text a spreadsheet would evaluate."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def number(value: float | None) -> Any:
    """A stored latency for a cell, exactly as stored (the shortest text that reads back as
    the same float); ``None`` and non-finite values as empty cells."""
    if value is None or not math.isfinite(value):
        return ""
    return value


def _timestamps(started_at: dt.datetime | None) -> Any:
    """t -> ISO 8601 time of second ``t`` (empty without a start), remembering the last one:
    every row of a second asks for the same t."""
    last: list[Any] = [None, ""]

    def at(t: int) -> str:
        if t != last[0]:
            last[0] = t
            last[1] = (
                ""
                if started_at is None
                else (started_at + dt.timedelta(seconds=t * INTERVAL_SECONDS)).isoformat(
                    timespec="milliseconds"
                )
            )
        return last[1]

    return at


def csv_rows(
    *,
    seconds: Iterable[tuple[Any, ...]],
    endpoint_seconds: Iterable[tuple[Any, ...]],
    started_at: dt.datetime | None,
    open_model: bool,
    resolution_s: int = 1,
    last_t: int = 0,
) -> Iterator[list[Any]]:
    """The CSV's data rows, merging the two ``t``-ordered streams; text cells made safe.

    ``users`` and ``dropped_iterations`` belong to the whole run, so endpoint rows leave them
    empty; ``dropped_iterations`` is empty for closed-model runs too (they cannot drop any).
    """
    stamp = _timestamps(started_at)

    def overall(row: tuple[Any, ...]) -> list[Any]:
        t, requests, failures, bytes_, p50, p95, p99, mx, users, dropped = row
        return [
            t,
            stamp(t),
            "",
            ALL_ENDPOINTS,
            requests,
            failures,
            rollup.rate(requests, t, resolution_s=resolution_s, last_t=last_t),
            bytes_,
            number(p50),
            number(p95),
            number(p99),
            number(mx),
            users,
            dropped if open_model else "",
            "",
        ]

    overall_rows = iter(seconds)
    pending = next(overall_rows, None)
    for row in endpoint_seconds:
        t, method, name, requests, failures, bytes_, p50, p95, p99, mx = row
        while pending is not None and pending[0] <= t:
            yield overall(pending)
            pending = next(overall_rows, None)
        yield [
            t,
            stamp(t),
            safe_cell(method),
            safe_cell(name),
            requests,
            failures,
            rollup.rate(requests, t, resolution_s=resolution_s, last_t=last_t),
            bytes_,
            number(p50),
            number(p95),
            number(p99),
            number(mx),
            "",
            "",
            "",
        ]
    while pending is not None:
        yield overall(pending)
        pending = next(overall_rows, None)


def server_rows(series: Iterable[Mapping[str, Any]], started_at: dt.datetime | None) -> Iterator[list[Any]]:
    """One row per stored value of each server series, after the load rows: method ``server``,
    name ``<source>.<series>``, the value in ``value`` (in the series' unit)."""
    stamp = _timestamps(started_at)
    for row in series:
        name = safe_cell(f"{row['source']}.{row['name']}")
        for t, value in row["points"]:
            yield [t, stamp(t), SERVER, name, *([""] * 10), number(value)]


def csv_chunks(
    *,
    seconds: Iterable[tuple[Any, ...]],
    endpoint_seconds: Iterable[tuple[Any, ...]],
    started_at: dt.datetime | None,
    open_model: bool,
    rows_per_chunk: int = ROWS_PER_CHUNK,
    server_series: Iterable[Mapping[str, Any]] = (),
    resolution_s: int = 1,
    last_t: int = 0,
) -> Iterator[str]:
    """The CSV text (header first) in chunks of ``rows_per_chunk`` lines, RFC 4180 quoting,
    CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    yield buffer.getvalue()
    rows = itertools.chain(
        csv_rows(
            seconds=seconds,
            endpoint_seconds=endpoint_seconds,
            started_at=started_at,
            open_model=open_model,
            resolution_s=resolution_s,
            last_t=last_t,
        ),
        server_rows(server_series, started_at),
    )
    while batch := list(itertools.islice(rows, rows_per_chunk)):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(batch)
        yield buffer.getvalue()
