"""The per-second series of a run as CSV: one row per (second, endpoint), each second's
all-endpoints row first.

Pure module. Rows come in as tuples (``SECOND_FIELDS``, ``ENDPOINT_SECOND_FIELDS``), both
ordered by ``t``, and go out as text chunks: a one-hour, 100-endpoint run (360,000 rows) is
never held in memory. Text cells that a spreadsheet would run as a formula get a leading
apostrophe (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Iterable, Iterator
from typing import Any

# Columns of the rows this module reads (the selector asks the database for exactly these).
SECOND_FIELDS = (
    "t", "requests", "failures", "bytes", "p50_ms", "p95_ms", "p99_ms", "max_ms", "users", "dropped_iterations",
)
ENDPOINT_SECOND_FIELDS = ("t", "method", "name", "requests", "failures", "bytes", "p50_ms", "p95_ms", "p99_ms", "max_ms")

COLUMNS = (
    "t", "timestamp", "method", "name", "requests", "failures", "rps", "bytes",
    "p50_ms", "p95_ms", "p99_ms", "max_ms", "users", "dropped_iterations",
)
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


def number(value: Any) -> Any:
    """A stored number for a cell: floats rounded to 3 decimals (microseconds for ms), ``None``
    and non-finite floats as empty cells."""
    if value is None:
        return ""
    if isinstance(value, float):
        return round(value, 3) if math.isfinite(value) else ""
    return value


class _Echo:
    """A file-like object whose ``write`` returns the line, for ``csv.writer`` (Django's
    "streaming large CSV files" recipe)."""

    def write(self, value: str) -> str:
        return value


def _timestamp(started_at: dt.datetime | None, t: int) -> str:
    if started_at is None:
        return ""
    return (started_at + dt.timedelta(seconds=t * INTERVAL_SECONDS)).isoformat(timespec="milliseconds")


def csv_rows(
    *,
    seconds: Iterable[tuple[Any, ...]],
    endpoint_seconds: Iterable[tuple[Any, ...]],
    started_at: dt.datetime | None,
    open_model: bool,
) -> Iterator[list[Any]]:
    """The CSV's data rows (cells not yet made safe), merging the two ``t``-ordered streams.

    ``users`` and ``dropped_iterations`` belong to the whole run, so endpoint rows leave them
    empty; ``dropped_iterations`` is empty for closed-model runs too (they cannot drop any).
    """
    def overall(row: tuple[Any, ...]) -> list[Any]:
        t, requests, failures, bytes_, p50, p95, p99, mx, users, dropped = row
        return [
            t, _timestamp(started_at, t), "", ALL_ENDPOINTS, requests, failures, requests / INTERVAL_SECONDS,
            bytes_, number(p50), number(p95), number(p99), number(mx), users, dropped if open_model else "",
        ]

    overall_rows = iter(seconds)
    pending = next(overall_rows, None)
    for row in endpoint_seconds:
        t, method, name, requests, failures, bytes_, p50, p95, p99, mx = row
        while pending is not None and pending[0] <= t:
            yield overall(pending)
            pending = next(overall_rows, None)
        yield [
            t, _timestamp(started_at, t), method, name, requests, failures, requests / INTERVAL_SECONDS,
            bytes_, number(p50), number(p95), number(p99), number(mx), "", "",
        ]
    while pending is not None:
        yield overall(pending)
        pending = next(overall_rows, None)


def csv_chunks(
    *,
    seconds: Iterable[tuple[Any, ...]],
    endpoint_seconds: Iterable[tuple[Any, ...]],
    started_at: dt.datetime | None,
    open_model: bool,
    rows_per_chunk: int = ROWS_PER_CHUNK,
) -> Iterator[str]:
    """The CSV text (header first) in chunks of ``rows_per_chunk`` lines, RFC 4180 quoting,
    CRLF line ends."""
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    lines: list[str] = []
    for row in csv_rows(seconds=seconds, endpoint_seconds=endpoint_seconds, started_at=started_at,
                        open_model=open_model):
        lines.append(writer.writerow([safe_cell(cell) for cell in row]))
        if len(lines) >= rows_per_chunk:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)
