"""Reads for the pages: querysets and plain rows, no writes.

Time-series reads use the columns RunSecond precomputes at ingestion (never the histograms), so
a one-hour run's page reads 3,600 small rows. Only the live per-endpoint table of a running run
merges histograms, since its summaries do not exist until the run ends.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import ExpressionWrapper, F, FloatField, QuerySet, TextField
from django.db.models.functions import Cast, NullIf

from runs.core import profiles, rollup
from runs.core.histogram import Histogram
from runs.figures.runs import SECOND_COLUMNS, series_from_rows
from runs.models import (
    EndpointSecond,
    EndpointSummary,
    ErrorGroup,
    GeneratorSecond,
    Run,
    RunSecond,
    Team,
    TestPlan,
)
from runs.selectors.control import live_controls
from runs.selectors.live import endpoint_rows_upto
from runs.selectors.seconds import run_second_dicts, run_second_values

# Run columns the list pages show; the snapshot JSON can be large and is left out.
RUN_LIST_FIELDS = (
    "id",
    "plan_id",
    "plan_name",
    "status",
    "created_at",
    "started_at",
    "finished_at",
    "last_t",
    "planned_seconds",
    "total_requests",
    "total_failures",
    "p95_ms",
    "current_users",
    "trigger",
    "version",
    "tags",
    "passed",
    "packed_at",
)


ENDPOINT_COLUMNS = (
    "method",
    "name",
    "requests",
    "failures",
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "rps",
)


@dataclass(frozen=True)
class RunFilter:
    """The run list's filters (all optional; validated by ``RunListFilterForm``)."""

    tag: str = ""
    version: str = ""
    plan_id: int | None = None
    trigger: str = ""

    @property
    def active(self) -> bool:
        return bool(self.tag or self.version or self.plan_id or self.trigger)


def run_list(*, team: Team, filters: RunFilter | None = None) -> QuerySet[Run]:
    """The team's runs newest first, with ``error_pct`` (None before the first request)."""
    error_pct = ExpressionWrapper(
        100.0 * F("total_failures") / NullIf(F("total_requests"), 0), output_field=FloatField()
    )
    runs = Run.objects.filter(team=team)
    if filters is not None:
        if filters.tag:
            # Tags cannot hold quotes, so '"tag"' in the JSON text is exactly "tag is an element";
            # unlike JSONField __contains this works on SQLite as well as PostgreSQL.
            runs = runs.alias(tags_text=Cast("tags", TextField())).filter(
                tags_text__contains=f'"{filters.tag}"'
            )
        if filters.version:
            runs = runs.filter(version=filters.version)
        if filters.plan_id:
            runs = runs.filter(plan_id=filters.plan_id)
        if filters.trigger:
            runs = runs.filter(trigger=filters.trigger)
    return runs.only(*RUN_LIST_FIELDS).annotate(error_pct=error_pct).order_by("-created_at", "-id")


def runs_recent(*, team: Team, limit: int = 10) -> list[Run]:
    return list(run_list(team=team)[:limit])


def runs_of_plan(*, plan: TestPlan, limit: int = 50) -> list[Run]:
    return list(run_list(team=plan.team).filter(plan=plan)[:limit])


def snapshot_preview(*, snapshot: dict[str, Any]) -> tuple[list[float], list[float]] | None:
    """The planned users curve of a run, from its snapshot."""
    profile = snapshot.get("profile") or {}
    if profiles.is_search(str(profile.get("kind") or "")):
        return None  # a search decides its loads while it runs: no curve was planned
    try:
        return profiles.preview(profiles.build_plan(profile["kind"], profile["params"]))
    except (profiles.ProfileError, KeyError, TypeError, ValueError):
        return None


def with_spans(rows: list[dict[str, Any]], *, run: Run) -> list[dict[str, Any]]:
    """``rows`` of a rolled-up run with each row's ``span`` (seconds it stands for), which the
    figures divide counts by; a run at full resolution's rows are returned as they are."""
    if run.resolution_s > 1:
        for row in rows:
            row["span"] = rollup.row_span(row["t"], resolution_s=run.resolution_s, last_t=run.last_t)
    return rows


def run_latest_second(*, run: Run, fields: Sequence[str]) -> dict[str, Any] | None:
    """The ``fields`` of the run's last stored row (None before its first second); of a
    rolled-up run, its last window with ``requests`` and ``failures`` per second of that window."""
    if run.last_t < 0:
        return None
    t = rollup.window_start(run.last_t, run.resolution_s)
    found = run_second_dicts(run=run, fields=fields, lo=t, hi=t)
    row = found[0] if found else None
    if row is not None and run.resolution_s > 1:
        span = rollup.row_span(t, resolution_s=run.resolution_s, last_t=run.last_t)
        for key in ("requests", "failures"):
            if row.get(key) is not None:
                row[key] = row[key] / span
    return dict(row) if row is not None else None


def run_seconds(*, run: Run, after: int = -1) -> list[dict[str, Any]]:
    """The run's RunSecond rows after ``after`` (``SECOND_COLUMNS``, plus ``span`` once rolled up)."""
    rows = run_second_dicts(run=run, fields=SECOND_COLUMNS, lo=after + 1)
    return with_spans(rows, run=run)


def run_generator_rows(*, run: Run) -> list[dict[str, Any]]:
    """Per generator, per second: requests, failures and CPU (distributed runs; else empty)."""
    if run.generators <= 1:
        return []
    rows: list[dict[str, Any]] = [
        dict(row)
        for row in GeneratorSecond.objects.filter(run=run)
        .order_by("generator", "t")
        .values("generator", "t", "requests", "failures", "cpu_percent")
    ]
    return with_spans(rows, run=run)


def run_endpoint_rows(*, run: Run, upto: int | None = None) -> list[dict[str, Any]]:
    """Per-endpoint figures: the stored summaries, or merged live while none exist yet, as of
    the second ``upto`` (the one the live page's headline shows; default: the latest)."""
    summaries = list(
        EndpointSummary.objects.filter(run=run).order_by("name", "method").values(*ENDPOINT_COLUMNS)
    )
    if summaries or not run.is_active:
        return summaries
    return endpoint_rows_upto(run=run, upto=run.last_t if upto is None else min(upto, run.last_t))


def endpoint_rows_live(*, run: Run) -> list[dict[str, Any]]:
    """Merge the exact per-second histograms of each endpoint of a running run."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    rows = (
        EndpointSecond.objects.filter(run=run)
        .values_list("method", "name", "requests", "failures", "histogram")
        .iterator(chunk_size=2000)
    )
    for method, name, requests, failures, hist in rows:
        acc = merged.get((method, name))
        if acc is None:
            acc = merged[(method, name)] = {"requests": 0, "failures": 0, "hist": Histogram()}
        acc["requests"] += requests
        acc["failures"] += failures
        acc["hist"].merge(Histogram.load(hist))
    seconds = max(run.last_t + 1, 1)
    out = []
    for (method, name), acc in sorted(merged.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        merged_hist: Histogram = acc["hist"]
        ps = merged_hist.percentiles_ms((50, 90, 95, 99)) if merged_hist.total else {}
        out.append(
            {
                "method": method,
                "name": name,
                "requests": acc["requests"],
                "failures": acc["failures"],
                "p50_ms": ps.get(50),
                "p90_ms": ps.get(90),
                "p95_ms": ps.get(95),
                "p99_ms": ps.get(99),
                "max_ms": merged_hist.max_ms if merged_hist.total else None,
                "rps": acc["requests"] / seconds,
            }
        )
    return out


def run_errors(*, run: Run, limit: int = 200) -> list[ErrorGroup]:
    return list(ErrorGroup.objects.filter(run=run).order_by("-count", "name")[:limit])


def run_progress(*, run: Run, latest: Mapping[str, Any] | None) -> dict[str, Any]:
    """Numbers of the progress bar of an active run."""
    elapsed = max(run.last_t + 1, 0)
    planned = run.planned_seconds or 0
    return {
        "elapsed": elapsed,
        "planned": planned,
        "percent": round(min(100.0, 100.0 * elapsed / planned), 1) if planned else 0.0,
        "users": run.current_users,
        # The last stored second's requests (now) and the mean since the start, labelled as such.
        "rps": (latest or {}).get("requests", 0) or 0,
        "rps_mean": round(run.total_requests / elapsed, 1) if run.last_t >= 0 else 0.0,
        "error_rate": round(100.0 * run.error_rate, 2),
    }


def run_live_payload(*, run: Run, after: int) -> dict[str, Any]:
    """What the live page polls: status, totals and the seconds stored after ``after``.

    Only numbers and fixed status codes: nothing a user typed reaches this payload.
    """
    # Every figure is as of ``run.last_t``, read with the totals in one row: the charts' points,
    # the headline, and the endpoint table the page then asks for with ``?upto=last_t``.
    rows = [row for row in run_seconds(run=run, after=after) if row["t"] <= run.last_t]
    latest: Mapping[str, Any] | None = rows[-1] if rows else None
    if latest is None and run.last_t >= 0:
        latest = run_latest_second(run=run, fields=("requests",))
    return {
        "status": str(run.status),
        "active": run.is_active,
        "last_t": run.last_t,
        "total_requests": run.total_requests,
        "total_failures": run.total_failures,
        "progress": run_progress(run=run, latest=latest),
        "points": series_from_rows(rows),
        "controls": live_controls(run=run),
    }


def seconds_series(
    rows: Sequence[tuple[int, int, int, float | None]], *, resolution_s: int = 1, last_t: int = 0
) -> dict[str, list[Any]]:
    """(t, requests, failures, p95_ms) rows of one run -> the comparison overlays' series
    (requests per second of each row's span, for a rolled-up run)."""
    if not rows:
        return seconds_series_columns(([], [], [], []), resolution_s=resolution_s, last_t=last_t)
    t, requests, failures, p95 = (list(c) for c in zip(*rows, strict=True))
    return seconds_series_columns((t, requests, failures, p95), resolution_s=resolution_s, last_t=last_t)


SecondColumns = tuple[list[int], list[int], list[int], list[float | None]]  # t, requests, failures, p95


def seconds_series_columns(
    columns: SecondColumns, *, resolution_s: int = 1, last_t: int = 0
) -> dict[str, list[Any]]:
    """``seconds_series`` of one run's rows as columns (``runs_seconds_columns``)."""
    t, requests, failures, p95 = columns
    if resolution_s <= 1:
        rps = [r / 1 for r in requests]  # rollup.rate of a one-second row, without the call
    else:
        rps = [
            rollup.rate(r, at, resolution_s=resolution_s, last_t=last_t)
            for r, at in zip(requests, t, strict=True)
        ]
    return {
        "t": t,
        "rps": rps,
        "p95": p95,
        "error_pct": [(100.0 * f / r) if r else None for r, f in zip(requests, failures, strict=True)],
    }


def runs_seconds_columns(
    *, ids: Sequence[int], runs: Mapping[int, Run] | None = None
) -> dict[int, SecondColumns]:
    """(t, requests, failures, p95_ms) of every RunSecond row of ``ids`` as columns in ``t``
    order, in one query. PostgreSQL aggregates each run's columns into JSON arrays (its float
    text round-trips exactly): a few strings per run instead of a Python row per second;
    SQLite, in-process, returns the rows. Runs of ``runs`` that are packed are read from their
    blocks (one more query)."""
    from django.db import connection

    out: dict[int, SecondColumns] = {}
    packed = [i for i in ids if runs is not None and i in runs and runs[i].packed_at is not None]
    if packed:
        out.update(_packed_seconds_columns(runs=[runs[i] for i in packed]))  # type: ignore[index]
        ids = [i for i in ids if i not in out]
    if not ids:
        return out
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(RunSecond._meta.db_table)
        placeholders = ", ".join(["%s"] * len(ids))
        with connection.cursor() as cursor:
            # Aggregated in the order of a sorted subquery (read from the (run, t) index): four
            # ``json_agg(… ORDER BY t)`` would sort each run's rows four times over.
            cursor.execute(
                "SELECT run_id, json_build_array(json_agg(t), json_agg(requests), json_agg(failures), "
                "json_agg(p95_ms))::text FROM (SELECT run_id, t, requests, failures, p95_ms "
                f"FROM {table} WHERE run_id IN ({placeholders}) ORDER BY run_id, t) AS s GROUP BY run_id",
                list(ids),
            )
            for run_id, text in cursor.fetchall():
                t, requests, failures, p95 = json.loads(text)
                # A whole float prints as "120" in JSON: back to the float the row holds.
                p95 = [v if v is None else float(v) for v in p95]
                if any(b <= a for a, b in zip(t, t[1:], strict=False)):
                    # PostgreSQL keeps a sorted subquery's order in practice, not by promise.
                    order = sorted(range(len(t)), key=t.__getitem__)
                    t, requests, failures, p95 = ([c[k] for k in order] for c in (t, requests, failures, p95))
                out[run_id] = (t, requests, failures, p95)
        return out
    grouped: dict[int, list[tuple[int, int, int, float | None]]] = {}
    for run_id, *row in (
        RunSecond.objects.filter(run_id__in=ids)
        .order_by("run_id", "t")
        .values_list("run_id", "t", "requests", "failures", "p95_ms")
    ):
        grouped.setdefault(run_id, []).append(tuple(row))  # type: ignore[arg-type]
    for run_id, rows in grouped.items():
        t, requests, failures, p95 = (list(c) for c in zip(*rows, strict=True))
        out[run_id] = (t, requests, failures, p95)
    return out


def _packed_seconds_columns(*, runs: Sequence[Run]) -> dict[int, SecondColumns]:
    """``runs_seconds_columns`` of packed runs, from their blocks in one query."""
    from runs.core.packing import RUN_FIELDS, unpack_columns
    from runs.models import PackedSeconds

    at = [RUN_FIELDS.index(f) for f in ("t", "requests", "failures", "p95_ms")]
    lists: dict[int, tuple[list[Any], ...]] = {run.pk: ([], [], [], []) for run in runs}
    blocks = (
        PackedSeconds.objects.filter(run_id__in=[run.pk for run in runs], endpoint=False)
        .order_by("run_id", "t0")
        .values_list("run_id", "columns")
    )
    for run_id, blob in blocks:
        columns = unpack_columns(bytes(blob), wanted=at)
        for target, k in zip(lists[run_id], at, strict=True):
            target.extend(columns[k])
    return {pk: (t, requests, failures, p95) for pk, (t, requests, failures, p95) in lists.items()}


def runs_series_window(
    *, runs: QuerySet[Run], ids: Sequence[int], lo: int, hi: int
) -> list[dict[str, list[Any]]] | None:
    """Full-resolution overlay series of ``ids`` between seconds ``lo`` and ``hi`` (inclusive),
    in the order of ``ids``; ``None`` when ``runs`` (the runs the reader may see) lacks one.
    One query for the rows."""
    found = {
        pk: (res, last, packed)
        for pk, res, last, packed in runs.filter(pk__in=ids).values_list(
            "pk", "resolution_s", "last_t", "packed_at"
        )
    }
    if len(found) != len(set(ids)):
        return None
    grouped: dict[int, list[tuple[int, int, int, float | None]]] = {i: [] for i in ids}
    packed = {i for i in ids if found[i][2] is not None}
    rows = (
        RunSecond.objects.filter(run_id__in=[i for i in ids if i not in packed], t__gte=lo, t__lte=hi)
        .order_by("run_id", "t")
        .values_list("run_id", "t", "requests", "failures", "p95_ms")
    )
    for run_id, t, requests, failures, p95 in rows:
        grouped[run_id].append((t, requests, failures, p95))
    for run_id in packed:
        stub = Run(pk=run_id, packed_at=found[run_id][2])
        grouped[run_id] = run_second_values(  # type: ignore[assignment]
            run=stub, fields=("t", "requests", "failures", "p95_ms"), lo=lo, hi=hi
        )
    return [seconds_series(grouped[i], resolution_s=found[i][0], last_t=found[i][1]) for i in ids]


def run_threshold_rows(*, run: Run) -> list[dict[str, Any]]:
    """The thresholds table of a run: its stored verdicts, or while none exist (an active run,
    or one from before thresholds) the snapshot's thresholds awaiting a verdict."""
    from runs.core import thresholds

    results = run.threshold_results or []
    if not results:
        try:
            items = thresholds.parse_thresholds(run.thresholds)
        except ValueError:
            items = []
        results = [
            {**item.to_dict(), "label": item.label(), "observed": None, "verdict": "pending", "note": ""}
            for item in items
        ]
    rows = []
    for r in results:
        metric = str(r.get("metric", ""))
        rows.append(
            {
                "label": r.get("label", ""),
                "observed": thresholds.format_observed(
                    metric, r.get("observed"), op=str(r.get("op", "")), limit=r.get("value")
                ),
                "limit": f"{r.get('op', '')} {thresholds.format_limit(metric, r.get('value'))}",
                "verdict": r.get("verdict", ""),
                "note": r.get("note", ""),
                "aborted": bool(r.get("aborted")),
            }
        )
    return rows
