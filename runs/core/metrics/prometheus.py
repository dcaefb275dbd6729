"""The range query API of a Prometheus server (``GET /api/v1/query_range``), pure.

A source's URL is the server's base URL (``http://prometheus:9090``, a path prefix kept). The
run's window is asked at ``step`` seconds; several result series (one per instance, say) are
summed at each timestamp. Values come back keyed by the run's second ``t``.
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import urlencode, urlsplit

MAX_POINTS = 11_000  # the server refuses more than 11,000 points per series


class PrometheusError(ValueError):
    """The server's answer is an error or not a range query result."""


def range_step(start: float, end: float) -> int:
    """1 s, or the smallest whole step that keeps the window under the server's point limit."""
    return max(1, math.ceil(max(0.0, end - start) / (MAX_POINTS - 1)))


def range_path(base_url: str, query: str, *, start: float, end: float, step: int) -> str:
    prefix = urlsplit(base_url).path.rstrip("/")
    params = urlencode({"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": str(step)})
    return f"{prefix}/api/v1/query_range?{params}"


def parse_range(body: str, *, start_epoch: float) -> dict[int, float]:
    """``{t: value}`` from a query_range answer, t = whole seconds since ``start_epoch``."""
    try:
        doc: Any = json.loads(body)
    except ValueError:
        raise PrometheusError("the answer is not JSON (is this the Prometheus server's base URL?)") from None
    if not isinstance(doc, dict):
        raise PrometheusError("the answer is not a Prometheus API answer")
    if doc.get("status") != "success":
        raise PrometheusError(
            f"Prometheus answered {doc.get('errorType') or 'an error'}: {doc.get('error') or ''}".strip()
        )
    data = doc.get("data") or {}
    if data.get("resultType") not in ("matrix", "vector", "scalar"):
        raise PrometheusError(f"unexpected result type {data.get('resultType')!r}")
    result = data.get("result") or []
    if data.get("resultType") == "scalar":
        result = [{"values": [result]}]
    out: dict[int, float] = {}
    for series in result:
        rows = series.get("values") or ([series["value"]] if "value" in series else [])
        for row in rows:
            try:
                ts, raw = float(row[0]), float(row[1])
            except (TypeError, ValueError, IndexError):
                raise PrometheusError(f"a sample {row!r} is not [timestamp, value]") from None
            if not math.isfinite(raw):
                continue
            t = math.floor(ts - start_epoch + 1e-6)
            out[t] = out.get(t, 0.0) + raw
    return out
