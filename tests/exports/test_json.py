"""The JSON builder, without a database."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from typing import Any

from runs.core.exports.json import SCHEMA_VERSION, RunExport, json_chunks
from runs.core.exports.redact import REDACTED

START = dt.datetime(2026, 11, 25, 10, 0, 0, tzinfo=dt.UTC)


def export(**overrides: Any) -> RunExport:
    fields: dict[str, Any] = {
        "run": {
            "id": 3,
            "plan_name": "p",
            "started_at": START,
            "total_requests": 30,
            "total_failures": 1,
            "total_bytes": 9,
            "error_rate": 1 / 30,
            "mean_rps": 10.0,
            "last_t": 2,
            "p50_ms": 1.5,
            "p95_ms": 2.5,
            "p99_ms": float("nan"),
            "max_ms": 4.0,
            "duration_seconds": 3.0,
        },
        "snapshot": {
            "target": {
                "auth_password": "pw-secret-1",
                "auth_token": "tok-secret-2",
                "headers": {"Authorization": "Bearer x", "Accept": "*/*"},
            }
        },
        "endpoints": [
            {"method": "GET", "name": "/a", "requests": 30, "p95_ms": 2.5, "histogram": {"k": [1], "c": [30]}}
        ],
        "errors": [
            {
                "method": "GET",
                "name": "/a",
                "error_class": "E",
                "message": "m",
                "count": 1,
                "first_seen": START,
                "last_seen": START,
            }
        ],
        "analysis": {
            "version": 1,
            "computed_at": START,
            "data": {"steps": [], "verdicts": {"runs": {"9": {}}}},
        },
        "seconds": [(t, 10, 0, 3, 1.0, 2.0, 3.0, 4.0, 2, 0, 30.0) for t in range(3)],
        "endpoint_seconds": [(t, "GET", "/a", 10, 0, 3, 1.0, 2.0, 3.0, float("inf")) for t in range(3)],
    }
    fields.update(overrides)
    return RunExport(**fields)


def test_the_document_is_valid_json_with_every_part() -> None:
    doc = json.loads("".join(json_chunks(export())))
    assert doc["schema_version"] == SCHEMA_VERSION
    assert list(doc) == [
        "schema_version",
        "generator",
        "run",
        "snapshot",
        "totals",
        "summary",
        "endpoints",
        "errors",
        "analysis",
        "server_series",
        "series",
    ]
    assert doc["run"]["started_at"] == "2026-11-25T10:00:00+00:00"
    assert doc["totals"]["requests"] == 30 and doc["totals"]["seconds"] == 3
    assert doc["summary"] == {"p50_ms": 1.5, "p95_ms": 2.5, "p99_ms": None, "max_ms": 4.0}  # NaN -> null
    assert doc["errors"][0]["first_seen"] == "2026-11-25T10:00:00+00:00"
    assert doc["analysis"]["data"] == {"steps": []}  # the verdict cache about other runs is left out
    series = doc["series"]
    assert series["interval_seconds"] == 1 and series["histograms"] is False
    overall = series["overall"]
    assert overall["columns"][:2] == ["t", "requests"] and "histogram" not in overall["columns"]
    assert len(overall["rows"]) == 3 and overall["rows"][1][0] == 1
    eps = series["endpoints"]
    assert eps["columns"] == [
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
    ]
    assert eps["rows"][0][:3] == [0, "GET", "/a"] and eps["rows"][0][-1] is None  # inf -> null
    assert "histogram" not in doc["endpoints"][0]


def test_secrets_of_the_snapshot_are_redacted() -> None:
    text = "".join(json_chunks(export()))
    assert "pw-secret-1" not in text and "tok-secret-2" not in text and "Bearer x" not in text
    doc = json.loads(text)
    assert doc["snapshot"]["target"]["auth_password"] == REDACTED
    assert doc["snapshot"]["target"]["headers"] == {"Authorization": REDACTED, "Accept": "*/*"}


def test_histograms_only_when_asked_for() -> None:
    hist = {"k": [100], "c": [10], "min": 100, "max": 100, "sum": 1000}
    doc = json.loads(
        "".join(
            json_chunks(
                export(
                    histograms=True,
                    seconds=[(0, 10, 0, 3, 1.0, 2.0, 3.0, 4.0, 2, 0, 30.0, hist)],
                    endpoint_seconds=[(0, "GET", "/a", 10, 0, 3, 1.0, 2.0, 3.0, 4.0, hist)],
                )
            )
        )
    )
    assert doc["series"]["histograms"] is True
    assert doc["series"]["overall"]["columns"][-1] == "histogram"
    assert doc["series"]["overall"]["rows"][0][-1] == hist
    assert doc["series"]["endpoints"]["rows"][0][-1] == hist
    assert doc["endpoints"][0]["histogram"] == {"k": [1], "c": [30]}


def test_empty_series_and_no_analysis() -> None:
    doc = json.loads(
        "".join(json_chunks(export(seconds=[], endpoint_seconds=[], analysis=None, endpoints=[])))
    )
    assert doc["series"]["overall"]["rows"] == [] and doc["series"]["endpoints"]["rows"] == []
    assert doc["analysis"] is None


def test_it_streams_without_reading_all_rows_first() -> None:
    endless = ((t, "GET", "/e", 1, 0, 1, 1.0, 1.0, 1.0, 1.0) for t in itertools.count())
    chunks = json_chunks(export(endpoint_seconds=endless), rows_per_chunk=50)
    taken = list(itertools.islice(chunks, 12))
    assert taken[-1].count("[") == 50  # a full chunk of endpoint rows


def test_names_that_look_like_markup_stay_plain_strings() -> None:
    name = "</script><script>alert(1)</script>\u2028"
    doc = json.loads(
        "".join(json_chunks(export(endpoint_seconds=[(0, "GET", name, 1, 0, 1, 1.0, 1.0, 1.0, 1.0)])))
    )
    assert doc["series"]["endpoints"]["rows"][0][2] == name
