"""The whole run as one JSON document, written in chunks.

Pure module. The small parts (run, redacted snapshot, totals, summary, endpoints, errors,
stored analysis) are encoded at once; the per-second series are streamed row by row from the
``t``-ordered iterables the selector passes, as ``{"columns": [...], "rows": [[...], ...]}``
tables (``pandas.DataFrame(rows, columns=columns)`` reads one), so a one-hour, 100-endpoint
run is never held in memory. Raw histograms (``runs.core.histogram.Histogram.to_dict``: bucket keys
``k`` and counts ``c``, in microseconds) only with ``histograms=True``.

Format version ``SCHEMA_VERSION``; a change that removes or renames a key bumps it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runs.core.exports.csv import ENDPOINT_SECOND_FIELDS, SECOND_FIELDS
from runs.core.exports.redact import snapshot_redacted

SCHEMA_VERSION = 1
ROWS_PER_CHUNK = 500

# Per-second columns as exported (the selector adds "histogram" as the last field when asked).
SECOND_COLUMNS = (*SECOND_FIELDS, "cpu_percent")
ENDPOINT_SECOND_COLUMNS = ENDPOINT_SECOND_FIELDS
ENDPOINT_COLUMNS = (
    "method",
    "name",
    "requests",
    "failures",
    "bytes",
    "rps",
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "mean_ms",
)
ERROR_COLUMNS = ("method", "name", "error_class", "message", "count", "first_seen", "last_seen")
# RunAnalysis.data keys left out: a cache of verdicts against other runs (not this run's data).
ANALYSIS_DROPPED = ("verdicts",)


@dataclass(frozen=True)
class RunExport:
    """What the JSON export of one run reads (``runs.selectors.export.run_export``).

    ``seconds`` and ``endpoint_seconds`` are ``t``-ordered tuples of ``SECOND_COLUMNS`` and
    ``ENDPOINT_SECOND_COLUMNS`` (plus a trailing histogram dict when ``histograms``); they may
    be lazy iterators, read once.
    """

    run: Mapping[str, Any]
    snapshot: Mapping[str, Any]
    endpoints: Sequence[Mapping[str, Any]]
    errors: Sequence[Mapping[str, Any]]
    analysis: Mapping[str, Any] | None  # {"version", "computed_at", "data"}
    seconds: Iterable[tuple[Any, ...]]
    endpoint_seconds: Iterable[tuple[Any, ...]]
    histograms: bool = False
    server_series: Sequence[Mapping[str, Any]] = ()  # ``runs.selectors.metrics.run_metric_rows``
    # Seconds each row stands for: 10 once the run was rolled up (its last row may be shorter,
    # ending at ``run["last_t"]``); the counts of a row are over that span.
    interval_seconds: int = 1


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data: datetimes in ISO 8601, non-finite floats as ``None``
    (jsonb cannot hold them anyway), tuples as lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _finite(row: tuple[Any, ...]) -> list[Any]:
    return [v if not isinstance(v, float) or math.isfinite(v) else None for v in row]


def _rows(batch: list[tuple[Any, ...]]) -> str:
    """``batch`` as comma-separated JSON arrays: one ``dumps`` per batch; a batch holding a
    non-finite float (which JSON cannot spell) is encoded again with it as ``null``."""
    try:
        text = _dumps(batch)
    except ValueError:
        text = _dumps([_finite(row) for row in batch])
    return text[1:-1]


def _table(columns: Sequence[str], rows: Iterable[tuple[Any, ...]], rows_per_chunk: int) -> Iterator[str]:
    yield '{"columns":' + _dumps(list(columns)) + ',"rows":['
    rows = iter(rows)
    separator = ""
    while batch := list(itertools.islice(rows, rows_per_chunk)):
        yield separator + _rows(batch)
        separator = ","
    yield "]}"


def _totals(run: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "requests": run.get("total_requests"),
        "failures": run.get("total_failures"),
        "bytes": run.get("total_bytes"),
        "error_rate": run.get("error_rate"),
        "mean_rps": run.get("mean_rps"),
        "seconds": max(int(run.get("last_t", -1)) + 1, 0),
        "duration_seconds": run.get("duration_seconds"),
    }


def _analysis(analysis: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if analysis is None:
        return None
    # Already JSON (read from a JSONField, non-finite floats spelled as strings): not walked.
    data = {k: v for k, v in (analysis.get("data") or {}).items() if k not in ANALYSIS_DROPPED}
    return {
        "version": analysis.get("version"),
        "computed_at": plain(analysis.get("computed_at")),
        "data": data,
    }


def json_chunks(export: RunExport, *, rows_per_chunk: int = ROWS_PER_CHUNK) -> Iterator[str]:
    """The JSON document of ``export`` in chunks; their concatenation is valid JSON."""
    run = export.run
    head = {
        "schema_version": SCHEMA_VERSION,
        "generator": "ScaleTest",
        "run": plain(run),
        "snapshot": plain(snapshot_redacted(export.snapshot)),
        "totals": plain(_totals(run)),
        "summary": plain({k: run.get(k) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")}),
        "endpoints": plain(
            [
                {k: e.get(k) for k in (*ENDPOINT_COLUMNS, *(("histogram",) if export.histograms else ()))}
                for e in export.endpoints
            ]
        ),
        "errors": plain([{k: e.get(k) for k in ERROR_COLUMNS} for e in export.errors]),
        "analysis": _analysis(export.analysis),
        # The target's own series: [{"source", "name", "unit", "limit", "warning", "points": [[t, v]]}].
        "server_series": plain(
            [{k: v for k, v in row.items() if k != "key"} for row in export.server_series]
        ),
    }
    text = _dumps(head)
    yield text[:-1]  # leave the object open for the series
    hist = ("histogram",) if export.histograms else ()
    # A busy second's histogram is ~100 KB once decoded: smaller batches keep memory flat.
    per_chunk = max(1, rows_per_chunk // 10) if export.histograms else rows_per_chunk
    yield (
        f',"series":{{"interval_seconds":{int(export.interval_seconds)},"histograms":'
        + _dumps(export.histograms)
        + ',"overall":'
    )
    yield from _table((*SECOND_COLUMNS, *hist), export.seconds, per_chunk)
    yield ',"endpoints":'
    yield from _table((*ENDPOINT_SECOND_COLUMNS, *hist), export.endpoint_seconds, per_chunk)
    yield "}}"
