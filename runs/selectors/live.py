"""The live page's per-endpoint table, as of one second, without re-merging the whole run.

Every poll of a running run's page names the second it shows (``last_t`` of the run row it
read); the endpoint table is then fetched *as of that second*, so the table, the headline and
the charts agree (the table used to be re-read every few seconds on its own and lag the
headline).

Merging every stored histogram of a run on every poll costs about 0.3 s of Python for ten
minutes of five endpoints, so the merged state is kept in Django's cache per run: a poll merges
only the seconds after the cached one. A second stored late (another generator's part of a
second already merged) is noticed by comparing the cached request count with the database's
and the merge starts over, so the cache never changes a figure, only its cost.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db.models import Sum

from runs.core.histogram import Histogram
from runs.models import EndpointSecond, Run

CACHE_SECONDS = 600
PERCENTILES = (50, 90, 95, 99)


def _key(run: Run) -> str:
    # The creation time too: ids can come back (a test database rolled back, SQLite).
    return f"scaletest:live-endpoints:{run.pk}:{run.created_at.timestamp() if run.created_at else 0}"


def _merge_into(acc: dict[str, Any], rows: Any) -> None:
    for method, name, requests, failures, hist in rows:
        entry = acc["endpoints"].get(f"{method} {name}")
        if entry is None:
            entry = acc["endpoints"][f"{method} {name}"] = {
                "method": method,
                "name": name,
                "requests": 0,
                "failures": 0,
                "hist": Histogram(),
            }
        entry["requests"] += requests
        entry["failures"] += failures
        entry["hist"].merge(Histogram.load(hist))
        acc["requests"] += requests


def endpoint_rows_upto(*, run: Run, upto: int) -> list[dict[str, Any]]:
    """Per-endpoint figures of the seconds ``t <= upto`` of a running run (the live table);
    ``rps`` is the mean over those seconds."""
    columns = ("method", "name", "requests", "failures", "histogram")
    cached = cache.get(_key(run))
    if cached is not None and cached["upto"] <= upto:
        stored = (
            EndpointSecond.objects.filter(run=run, t__lte=cached["upto"]).aggregate(n=Sum("requests"))["n"]
            or 0
        )
        if stored != cached["requests"]:
            cached = None  # a second already merged grew since: start over
    if cached is None or cached["upto"] > upto:
        cached = {"upto": -1, "requests": 0, "endpoints": {}}
    if upto > cached["upto"]:
        rows = (
            EndpointSecond.objects.filter(run=run, t__gt=cached["upto"], t__lte=upto)
            .values_list(*columns)
            .iterator(chunk_size=2000)
        )
        _merge_into(cached, rows)
        cached["upto"] = upto
        cache.set(_key(run), cached, CACHE_SECONDS)
    seconds = max(upto + 1, 1)
    out = []
    for entry in sorted(cached["endpoints"].values(), key=lambda e: (e["name"], e["method"])):
        hist: Histogram = entry["hist"]
        ps = hist.percentiles_ms(PERCENTILES) if hist.total else {}
        out.append(
            {
                "method": entry["method"],
                "name": entry["name"],
                "requests": entry["requests"],
                "failures": entry["failures"],
                "p50_ms": ps.get(50),
                "p90_ms": ps.get(90),
                "p95_ms": ps.get(95),
                "p99_ms": ps.get(99),
                "max_ms": hist.max_ms if hist.total else None,
                "rps": entry["requests"] / seconds,
            }
        )
    return out
