"""The capacity analysis of a run, computed once from its rows and stored in ``RunAnalysis``.

``run_summarise`` calls ``run_analyse`` when a run ends (``run_finish`` and the reaper both
summarise); pages call ``run_analyses_ensure``, which reads the stored analyses in one query and
computes the ones missing (runs from before this existed) or of an older ``ANALYSIS_VERSION``.

Building reads the run's RunSecond rows with their histograms (steps, bootstrap CIs, knee, USL,
validity), merges each endpoint's histograms per step in the database query's output with numpy,
and cuts the steady-state per-second p95 of the run and of each endpoint into
``BLOCK_SECONDS`` block means for the regression verdicts of comparisons.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from runs.core import profiles
from runs.core.analysis import (
    IntervalPoint,
    StepAggregate,
    UslFit,
    check_validity,
    fit_usl,
    rank_bottlenecks,
)
from runs.core.analysis.capacity import knee_from_steps
from runs.core.analysis.compare import MIN_BLOCK_SECONDS
from runs.core.analysis.planned import (
    aggregate_plan_steps,
    plan_steps,
    planned_levels,
    search_levels,
    skipped_warnings,
    warmup_seconds,
)
from runs.core.analysis.steps import aggregate_step, detect_steps
from runs.core.analysis.stored import (
    VERDICTS_VERSION,
    CapacityAnalysis,
    block_series,
    block_users,
    capacity_to_data,
    jsonable,
)
from runs.core.histogram import Histogram, decode_many
from runs.models import EndpointSecond, Run, RunAnalysis, RunSecond
from runs.selectors.control import run_effective_plan
from runs.selectors.histograms import second_histograms
from runs.selectors.metrics import run_server_summary
from runs.selectors.seconds import endpoint_second_values, iter_endpoint_second_values, run_second_values

log = logging.getLogger(__name__)

# Bump when the format of RunAnalysis.data or the analysis itself changes: stored analyses of
# another version are recomputed on their next read.
ANALYSIS_VERSION = 3  # 2: steps from the plan, knee from the operational laws; 3: server series

# Profile kinds of the open (arrival-rate) model; every other kind is closed-model.
ARRIVAL_KINDS = frozenset(getattr(profiles, "OPEN_MODEL_KINDS", ("arrival_constant", "arrival_ramp")))
# Kinds whose plan is a series of load levels: the capacity section always shows for them.
STEPPED_KINDS = frozenset({"staircase", "stages"})

# Runs whose user counts do not follow their snapshot's plan (runs seeded by hand, or a plan
# the generator could not hold) get their steps inferred from the user counts instead, as
# before: stretches of at least this many seconds at one count.
MIN_STEP_SECONDS = 10
# Bootstrap resamples for the p95 CI: enough for a stable 95% interval, and a one-hour run's
# twelve steps still take about a second. Per-endpoint steps are merged in the database and
# carry no CI.
RUN_RESAMPLES = 400
# Verdicts never use blocks shorter than compare.MIN_BLOCK_SECONDS, so storing block means of
# that length loses nothing a verdict would use, at a fifth of the per-second series' size.
BLOCK_SECONDS = MIN_BLOCK_SECONDS
OVERALL = "(all endpoints)"  # never an endpoint key: those start with an HTTP method


# -- small helpers -------------------------------------------------------------------------------
def endpoint_key(method: str, name: str) -> str:
    return f"{method} {name}"


def profile_kind(run: Run) -> str:
    return str((run.snapshot or {}).get("profile", {}).get("kind", ""))


def is_closed_model(kind: str) -> bool:
    return kind not in ARRIVAL_KINDS


def think_time_seconds(run: Run) -> float:
    """Mean think time of the run's scenario: Locust's ``between(min, max)`` is uniform."""
    scenario = (run.snapshot or {}).get("scenario") or {}
    try:
        low = float(scenario.get("think_time_min") or 0.0)
        high = float(scenario.get("think_time_max") or 0.0)
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, (low + high) / 2.0)


def run_planned_levels(run: Run) -> list[Any]:
    """The load levels the run followed (``runs.core.analysis.planned.planned_levels``): its
    snapshot's plan, with the levels set and the stop asked for while it ran
    (``runs.selectors.control``: one step per level); for a capacity search, the steps it
    decided. Empty without a valid profile."""
    profile = (run.snapshot or {}).get("profile") or {}
    kind = str(profile.get("kind", ""))
    if profiles.is_search(kind):
        # A search chose its loads while it ran: its steps are the decided ones.
        params = profile.get("params") or {}
        return search_levels(
            (run.capacity_search or {}).get("decisions") or [],
            open_model=profiles.is_open_model(kind),
            max_in_flight=int(params.get("max_in_flight") or 0),
        )
    plan = run_effective_plan(run=run)
    return planned_levels(plan) if plan is not None else []


def run_steps(
    *, run: Run, points: Sequence[IntervalPoint], closed: bool
) -> tuple[list[StepAggregate], list[str]]:
    """The run's steps: from its plan when the observed user counts confirm it, else inferred
    from the user counts; and the plain-words notes on planned steps left out."""
    planned, notes, unconfirmed = plan_steps(points, run_planned_levels(run), closed_model=closed)
    if planned and unconfirmed <= len(planned):
        return aggregate_plan_steps(planned, bootstrap_resamples=RUN_RESAMPLES), notes
    return [
        aggregate_step(step, warmup_seconds=warmup_seconds(step.seconds), bootstrap_resamples=RUN_RESAMPLES)
        for step in detect_steps(points, min_step_seconds=MIN_STEP_SECONDS)
    ], []


def histogram_from_row(data: Any) -> Histogram:
    """A Histogram from a stored row: the compact bytes, or a ``to_dict`` row stored before them.

    Dict rows are written by our own ingestion (sorted unique keys, non-negative counts), so
    this skips ``Histogram.from_dict``'s Python loop: about three times faster on a one-hour run.
    """
    if not isinstance(data, Mapping):
        return Histogram.load(data)
    h = Histogram()
    if not data:
        return h
    keys = data.get("k") or []
    counts = data.get("c") or []
    if len(keys) != len(counts):
        return Histogram.from_dict(data)  # raises with a clear message
    h.counts = dict(zip(keys, counts, strict=True))
    h.total = sum(counts)
    h.min_us = int(data.get("min", 0))
    h.max_us = int(data.get("max", 0))
    h.sum_us = int(data.get("sum", 0))
    return h


# -- merged histograms of time windows -----------------------------------------------------------
@dataclass(frozen=True)
class StepTotals:
    """One window's merged histogram and counts, for one run or one endpoint of a run."""

    histogram: Histogram
    requests: int
    failures: int
    bytes: int


def step_histograms(
    *, model: type[RunSecond] | type[EndpointSecond], windows: Mapping[int, Sequence[tuple[int, int, int]]]
) -> dict[tuple[Any, ...], StepTotals]:
    """Merge the stored histograms of every (users, first t, last t) window, in one query.

    ``windows`` maps a run id to its windows. Keys of the result are ``(run_id, window index)``
    for RunSecond and ``(run_id, window index, method, name)`` for EndpointSecond. The bucket
    arrays arrive as JSON text and are parsed and summed with numpy: a one-hour run at twenty
    endpoints holds ~1.6 million buckets, and decoding them as Python objects is several times
    slower. ``run_summarise`` uses it too, with one window over the whole run.
    """
    values = [(run_id, k, lo, hi) for run_id, ws in windows.items() for k, (_, lo, hi) in enumerate(ws)]
    if not values:
        return {}
    endpoint = model is EndpointSecond
    extra = ", s.method, s.name" if endpoint else ""
    placeholders = ", ".join(["(%s, %s, %s, %s)"] * len(values))
    # A CTE with a column list (not ``JOIN (VALUES …) AS w(cols)``) works on both databases.
    sql = f"""
        WITH w(run_id, step, lo, hi) AS (VALUES {placeholders})
        SELECT s.run_id, w.step{extra}, s.requests, s.failures, s.bytes, s.histogram
        FROM {model._meta.db_table} s
        JOIN w ON s.run_id = w.run_id AND s.t BETWEEN w.lo AND w.hi
    """  # table and column names are ours; every value is a parameter
    params = [int(v) for row in values for v in row]
    groups: dict[tuple[Any, ...], list[tuple[Any, ...]]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            groups[tuple(row[:-4])].append(row[-4:])
    return {key: _merge_rows(rows) for key, rows in groups.items()}


def packed_step_histograms(
    *, run: Run, windows: Sequence[tuple[int, int, int]]
) -> dict[tuple[Any, ...], StepTotals]:
    """``step_histograms`` of a packed run's endpoints (keys ``(run_id, window index, method,
    name)``), merged from its blocks."""
    if not windows:
        return {}
    lo, hi = min(w[1] for w in windows), max(w[2] for w in windows)
    groups: dict[tuple[Any, ...], list[tuple[Any, ...]]] = defaultdict(list)
    rows = endpoint_second_values(
        run=run, fields=("t", "method", "name", "requests", "failures", "bytes", "histogram"), lo=lo, hi=hi
    )
    for t, method, name, *values in rows:
        for k, (_, w_lo, w_hi) in enumerate(windows):
            if w_lo <= t <= w_hi:
                groups[(run.pk, k, method, name)].append(tuple(values))
    return {key: _merge_rows(rows) for key, rows in groups.items()}


def _merge_rows(rows: Sequence[tuple[Any, ...]]) -> StepTotals:
    """Sum the counts and merge the stored histograms (``requests, failures, bytes, histogram``)."""
    requests = sum(r[0] or 0 for r in rows)
    failures = sum(r[1] or 0 for r in rows)
    nbytes = sum(r[2] or 0 for r in rows)
    h = decode_many([r[3] for r in rows]).merged()
    return StepTotals(histogram=h, requests=int(requests), failures=int(failures), bytes=int(nbytes))


def lean_step(*, users: int, lo: int, hi: int, trimmed: int, totals: StepTotals | None) -> StepAggregate:
    """A StepAggregate from a merged step, without the per-second CIs (none to bootstrap from)."""
    seconds = hi - lo + 1
    h = totals.histogram if totals else Histogram()
    requests = totals.requests if totals else 0
    failures = totals.failures if totals else 0
    pct = h.percentiles_ms([50, 95, 99])
    return StepAggregate(
        users=users,
        start_t=lo,
        end_t=hi,
        duration_s=seconds,
        trimmed_s=trimmed,
        requests=requests,
        failures=failures,
        error_rate=failures / requests if requests else 0.0,
        throughput_rps=requests / seconds,
        throughput_ci=None,
        mean_ms=h.mean_ms,
        p50_ms=pct[50],
        p95_ms=pct[95],
        p99_ms=pct[99],
        p95_ci_ms=None,
        cpu_mean=None,
        cpu_max=None,
        rates=(),
    )


def _fit_usl(steps: Sequence[StepAggregate]) -> tuple[UslFit | None, str]:
    users = [s.users for s in steps if s.throughput_rps > 0]
    if len(set(users)) < 3:
        return None, "The USL needs at least three load steps with throughput."
    try:
        return fit_usl(users, [s.throughput_rps for s in steps if s.throughput_rps > 0]), ""
    except (ValueError, RuntimeError) as exc:  # RuntimeError: curve_fit did not converge
        return None, f"The USL fit failed: {exc}"


# -- building ------------------------------------------------------------------------------------
def run_analysis_build(*, run: Run) -> dict[str, Any]:
    """The ``RunAnalysis.data`` of ``run`` from its rows (three queries); writes nothing.

    Not for a rolled-up run: its 10-second rows would give coarser steps than the analysis it
    keeps (``runs.services.retention`` stores one before rolling a run up)."""
    if run.is_rolled_up:
        raise ValueError(f"run {run.pk} is rolled up to {run.resolution_s} s: its stored analysis is kept")
    kind = profile_kind(run)
    closed = is_closed_model(kind)
    think = think_time_seconds(run)
    points: list[IntervalPoint] = []
    p95_by_t: dict[int, float | None] = {}
    packed = run.packed_at is not None
    rows = run_second_values(
        run=run, fields=("t", "users", "requests", "failures", "cpu_percent", "p95_ms", "histogram")
    )
    # Decoded in bulk; a second of one endpoint takes its endpoint's histogram (one more query).
    hists = second_histograms(run_id=run.pk, rows=[(r[0], r[2], r[6]) for r in rows], packed=packed)
    for (t, users, requests, failures, cpu, p95, _), hist in zip(rows, hists, strict=True):
        points.append(
            IntervalPoint(
                t=t, users=users, requests=requests, failures=failures, histogram=hist, cpu_percent=cpu
            )
        )
        p95_by_t[t] = p95
    del rows, hists
    steps, notes = run_steps(run=run, points=points, closed=closed)
    show = bool(steps) and (kind in STEPPED_KINDS or len(steps) >= 2)
    warnings = skipped_warnings(steps, notes) + check_validity(
        steps, points=points, closed_model=closed, used_for_capacity=show
    )
    del points  # the per-second histograms are not needed any more
    windows = [(s.users, s.start_t, s.end_t) for s in steps]

    knee = usl = bottlenecks = None
    usl_note = ""
    endpoint_steps: dict[str, list[StepAggregate]] = {}
    if show:
        knee = knee_from_steps(steps, think_time_s=think)
        usl, usl_note = _fit_usl(steps)
        # Per-endpoint steps use the run's windows (endpoints share its users) and are merged
        # from the query's text: twenty endpoints of a one-hour run are 72,000 histograms.
        merged = (
            packed_step_histograms(run=run, windows=windows)
            if packed
            else step_histograms(model=EndpointSecond, windows={run.pk: windows})
        )
        for method, name in sorted({(key[2], key[3]) for key in merged}, key=lambda mn: (mn[1], mn[0])):
            endpoint_steps[endpoint_key(method, name)] = [
                lean_step(
                    users=s.users,
                    lo=s.start_t,
                    hi=s.end_t,
                    trimmed=s.trimmed_s,
                    totals=merged.get((run.pk, k, method, name)),
                )
                for k, s in enumerate(steps)
            ]
        bottlenecks = rank_bottlenecks(endpoint_steps) if len(endpoint_steps) >= 2 else None
    capacity = CapacityAnalysis(
        kind=kind,
        closed_model=closed,
        show_capacity=show,
        steps=steps,
        knee=knee,
        usl=usl,
        usl_note=usl_note,
        think_time_s=think,
        endpoint_steps=endpoint_steps,
        bottlenecks=bottlenecks,
        warnings=warnings,
    )

    # Steady-state p95 in blocks, for verdicts: the run's (RunSecond) and each endpoint's.
    endpoint_blocks: dict[str, list[float | None]] = {}
    if windows:
        lo, hi = min(w[1] for w in windows), max(w[2] for w in windows)
        for (method, name), by_t in endpoint_p95_by_second(run=run, lo=lo, hi=hi).items():
            endpoint_blocks[endpoint_key(method, name)] = block_series(windows, by_t, seconds=BLOCK_SECONDS)
    data = {
        **capacity_to_data(capacity),
        "blocks": {
            "seconds": BLOCK_SECONDS,
            "users": block_users(windows, seconds=BLOCK_SECONDS),
            "overall": block_series(windows, p95_by_t, seconds=BLOCK_SECONDS),
            "endpoints": endpoint_blocks,
        },
    }
    # The target's own series per step, and the one that is full at the knee, named in the headline.
    server = run_server_summary(run=run, steps=steps, knee=knee)
    if server is not None:
        data["server"] = jsonable(server)
        if server["sentence"] and data.get("knee"):
            data["knee"]["headline"] = f"{data['knee']['headline']} {server['sentence']}"
    return data


def endpoint_p95_by_second(*, run: Run, lo: int, hi: int) -> dict[tuple[str, str], dict[int, float | None]]:
    """Each endpoint's per-second p95 in seconds ``lo..hi``: (method, name) -> {t: p95_ms}.

    Streamed from the rows or the run's blocks, on every database (it replaced a
    PostgreSQL-only ``ArrayAgg``, which the embedded SQLite default cannot run).
    """
    out: dict[tuple[str, str], dict[int, float | None]] = defaultdict(dict)
    rows = iter_endpoint_second_values(run=run, fields=("method", "name", "t", "p95_ms"), lo=lo, hi=hi)
    for method, name, t, p95 in rows:
        out[(method, name)][t] = p95
    return dict(out)


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and np.isfinite(value) else None


def _store(runs_data: Mapping[int, dict[str, Any]]) -> dict[int, RunAnalysis]:
    now = timezone.now()
    objs = [
        RunAnalysis(
            run_id=run_id,
            version=ANALYSIS_VERSION,
            computed_at=now,
            data=data,
            max_rps=_finite((data.get("knee") or {}).get("max_throughput_rps")),
            knee_users=_finite((data.get("knee") or {}).get("knee_users")),
        )
        for run_id, data in runs_data.items()
    ]
    # An upsert: two requests computing the same missing analysis both succeed.
    RunAnalysis.objects.bulk_create(
        objs,
        update_conflicts=True,
        unique_fields=["run"],
        update_fields=["version", "computed_at", "data", "max_rps", "knee_users"],
    )
    return {obj.run_id: obj for obj in objs}


def run_analyse(*, run_id: int) -> RunAnalysis:
    """Compute the analysis of an ended run from its rows and store it (replacing any).

    A rolled-up run keeps its stored analysis (made from its per-second rows before the
    roll-up); one is computed from the 10-second rows only when none was stored."""
    run = Run.objects.get(pk=run_id)
    if run.is_rolled_up:
        stored = RunAnalysis.objects.filter(run=run).first()
        if stored is not None:
            return stored
    return _store({run.pk: run_analysis_build(run=run)})[run.pk]


@contextmanager
def savepoint_in_transaction() -> Iterator[None]:
    """A savepoint when a caller's transaction is open (a failed query inside must not break
    it), else nothing: no transaction of our own around an analysis, which computes for seconds
    on a long run, and on SQLite a transaction holds the file's one write lock from its start
    (IMMEDIATE) that another run's storing, its heartbeat and every page's write would wait out."""
    if connection.in_atomic_block:
        with transaction.atomic():
            yield
    else:
        yield


def run_analyse_safely(*, run_id: int) -> RunAnalysis | None:
    """``run_analyse`` for the end of a run: a failure is logged, never raised (the run must
    still end; its page computes the analysis when first opened).

    No transaction of its own (see ``savepoint_in_transaction``; the store is one statement).
    """
    try:
        with savepoint_in_transaction():
            return run_analyse(run_id=run_id)
    except Exception:
        log.exception("analysis of run %s failed; it will be computed when its page is opened", run_id)
        return None


STORED_VERDICTS_MAX = 50  # candidate runs whose verdicts a reference run's analysis keeps


def stored_verdicts(data: Mapping[str, Any]) -> dict[str, Any]:
    """The verdicts stored in a reference run's analysis: candidate run id (str) -> their
    ``runs.core.analysis.stored.verdicts_to_data``; empty when none, or stored by another
    analysis or verdict version."""
    cache = data.get("verdicts") or {}
    if cache.get("key") != [ANALYSIS_VERSION, VERDICTS_VERSION]:
        return {}
    return cache.get("runs") or {}


def run_analysis_store_verdicts(
    *, reference_id: int, data: Mapping[str, Any], new: Mapping[str, Any]
) -> None:
    """Add ``new`` (candidate run id (str) -> verdicts data) to the verdicts stored in the
    reference run's analysis ``data`` (as read on this request), keeping the newest
    ``STORED_VERDICTS_MAX``.

    Only the ``verdicts`` key of the row is written (``jsonb_set``), and only while the row
    holds this ``ANALYSIS_VERSION``: a concurrent re-analysis is never overwritten. Two
    requests storing at once may drop one's entries; they are recomputed on a later view.
    Only pass verdicts between ended runs: their analyses, hence their verdicts, never change.
    """
    runs = {k: v for k, v in stored_verdicts(data).items() if k not in new} | dict(new)
    runs = dict(list(runs.items())[-STORED_VERDICTS_MAX:])
    cache = {"key": [ANALYSIS_VERSION, VERDICTS_VERSION], "runs": runs}
    # PostgreSQL's jsonb_set, SQLite's json_set (the embedded mode): same single-key write.
    set_key = (
        "jsonb_set(data, '{verdicts}', %s::jsonb)"
        if connection.vendor == "postgresql"
        else "json_set(data, '$.verdicts', json(%s))"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {RunAnalysis._meta.db_table} SET data = {set_key} WHERE run_id = %s AND version = %s",
            [json.dumps(cache, allow_nan=False), reference_id, ANALYSIS_VERSION],  # already jsonable
        )
    if isinstance(data, dict):
        data["verdicts"] = cache


def run_analyses_ensure(
    *, ids: Sequence[int], runs: Mapping[int, Run] | None = None
) -> dict[int, dict[str, Any]]:
    """``RunAnalysis.data`` of each run id: stored ones in one query, missing or stale ones
    computed (and stored, for runs that have ended; a running run's is computed only).

    ``runs`` may hold Run rows already loaded; others are loaded only when computing.
    """
    found = {
        run_id: data
        for run_id, version, data, resolution in RunAnalysis.objects.filter(run_id__in=ids).values_list(
            "run_id", "version", "data", "run__resolution_s"
        )
        if stored_analysis_current(version=version, resolution_s=resolution)
    }
    missing = [i for i in ids if i not in found]
    if not missing:
        return found
    return found | _analyses_compute(missing=missing, runs=runs)


def stored_analysis_current(*, version: int, resolution_s: int) -> bool:
    """Whether a stored analysis is used as it is: made by this ANALYSIS_VERSION, or kept by a
    rolled-up run (runs.services.retention), whatever its version, since its 10-second rows
    would give coarser steps than the per-second rows it was made from."""
    return version == ANALYSIS_VERSION or resolution_s > 1


def _analyses_compute(*, missing: Sequence[int], runs: Mapping[int, Run] | None) -> dict[int, dict[str, Any]]:
    """Compute the analyses of ``missing`` (none stored, or stale), storing those of ended runs."""
    known = dict(runs or {})
    if any(i not in known for i in missing):
        known |= Run.objects.in_bulk([i for i in missing if i not in known])
    fresh = {i: run_analysis_build_or_error(run=known[i]) for i in missing if i in known}
    # A failed analysis is never stored: it is tried again on the next view (after a fix).
    ended = {i: data for i, data in fresh.items() if not known[i].is_active and not data.get("error")}
    if ended:
        _store(ended)
    return fresh


# The keys of a stored analysis the comparison page reads for every run. The rest (per-endpoint
# steps, bottlenecks, validity, the block series: most of a one-hour run's 200 KB) stays in the
# database; the block series are read only for the pairs whose verdicts must be computed.
COMPARE_KEYS = ("steps", "knee", "usl", "verdicts")


def _endpoint_names_sql() -> str:
    """SQL (a scalar subquery on the RunAnalysis row) for the keys of ``data.blocks.endpoints``
    as a JSON array text: PostgreSQL's ``jsonb_object_keys``, SQLite's ``json_each``."""
    data = f"{connection.ops.quote_name(RunAnalysis._meta.db_table)}.{connection.ops.quote_name('data')}"
    if connection.vendor == "postgresql":
        path = f"({data} -> 'blocks' -> 'endpoints')"
        return (
            "(SELECT coalesce(json_agg(k), '[]'::json)::text FROM jsonb_object_keys("
            f"CASE WHEN jsonb_typeof({path}) = 'object' THEN {path} ELSE '{{}}'::jsonb END) AS k)"
        )
    return (
        "(SELECT coalesce(json_group_array(key), '[]') FROM json_each("
        f"{data}, '$.blocks.endpoints') WHERE key IS NOT NULL)"
    )


@dataclass(frozen=True)
class CompareDigest:
    """What the comparison page needs of one run's analysis: ``data`` holds ``COMPARE_KEYS``
    and ``blocks.seconds`` (a stored row's) or is the whole analysis (one computed now);
    ``endpoint_names`` are the endpoints with a block series (``data.blocks.endpoints``)."""

    data: dict[str, Any]
    endpoint_names: frozenset[str]
    complete: bool  # ``data`` is the whole analysis (its block series included)


def run_analyses_compare_digests(
    *, ids: Sequence[int], runs: Mapping[int, Run] | None = None
) -> dict[int, CompareDigest]:
    """``run_analyses_ensure`` for the comparison page: of each stored, current analysis only
    ``COMPARE_KEYS``, the block length and the names of the endpoints with block series, read
    by the database in one query (JSON key paths both databases run); missing or stale ones are
    computed (and stored) whole by ``run_analyses_ensure``, under the same rules."""
    found: dict[int, CompareDigest] = {}
    rows = (
        RunAnalysis.objects.filter(run_id__in=ids)
        .annotate(endpoint_names=RawSQL(_endpoint_names_sql(), []))
        .values_list(
            "run_id",
            "version",
            "run__resolution_s",
            "data__blocks__seconds",
            "endpoint_names",
            *(f"data__{key}" for key in COMPARE_KEYS),
        )
    )
    for run_id, version, resolution, seconds, names, *values in rows:
        if not stored_analysis_current(version=version, resolution_s=resolution):
            continue  # stale: recomputed below, as ``run_analyses_ensure`` would
        data: dict[str, Any] = {k: v for k, v in zip(COMPARE_KEYS, values, strict=True) if v is not None}
        data["blocks"] = {} if seconds is None else {"seconds": seconds}
        found[run_id] = CompareDigest(
            data=data,
            endpoint_names=frozenset(json.loads(names) if isinstance(names, str) else names or ()),
            complete=False,
        )
    missing = [i for i in ids if i not in found]
    if missing:
        for run_id, data in _analyses_compute(missing=missing, runs=runs).items():
            endpoints = (data.get("blocks") or {}).get("endpoints") or {}
            found[run_id] = CompareDigest(data=data, endpoint_names=frozenset(endpoints), complete=True)
    return found


def run_analyses_blocks(*, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The block series (``data.blocks``) of the stored analyses of ``ids``, in one query."""
    if not ids:
        return {}
    return {
        run_id: blocks or {}
        for run_id, blocks in RunAnalysis.objects.filter(run_id__in=ids).values_list("run_id", "data__blocks")
    }


ANALYSIS_FAILED = (
    "The capacity analysis of this run could not be computed (an internal error; the server log "
    "has the details). The measured results are complete and shown as stored; the analysis is "
    "tried again the next time this run is opened."
)


ANALYSIS_ROLLED_UP = (
    "This run was rolled up to 10-second rows by the retention policy before its capacity "
    "analysis was stored, so none is shown: steps need its per-second rows. The measured results "
    "are complete and shown as stored."
)


def run_analysis_build_or_error(*, run: Run) -> dict[str, Any]:
    """``run_analysis_build``, or, when it fails, an analysis with no steps whose ``error`` says
    so in plain words: the pages, exports and API then show the measured results and that
    message instead of failing as a whole. The failure is logged with its traceback. A
    rolled-up run with no stored analysis gets such an analysis too, saying why."""
    error = ANALYSIS_FAILED
    if run.is_rolled_up:
        error = ANALYSIS_ROLLED_UP  # nothing stored before the roll-up: steps need the seconds
    else:
        try:
            with savepoint_in_transaction():
                return run_analysis_build(run=run)
        except Exception:
            log.exception("analysis of run %s failed", run.pk)
    kind = profile_kind(run)
    empty = CapacityAnalysis(
        kind=kind,
        closed_model=is_closed_model(kind),
        show_capacity=False,
        steps=[],
        knee=None,
        usl=None,
        usl_note="",
        think_time_s=think_time_seconds(run),
        error=error,
    )
    return {
        **capacity_to_data(empty),
        "blocks": {"seconds": BLOCK_SECONDS, "users": [], "overall": [], "endpoints": {}},
    }


def run_baseline_verdicts_store_safely(*, run_id: int) -> None:
    """At the end of a run: its verdicts against its plan's baseline, stored in the baseline's
    analysis as the compare page stores them, so the plan's trend marks the run slower or
    faster without anyone opening a comparison. A failure is logged, never raised."""
    from runs.core.analysis.stored import verdicts_to_data
    from runs.selectors.analysis import _sample_seconds, block_arrays, verdicts

    try:
        with savepoint_in_transaction():
            run = Run.objects.select_related("plan").get(pk=run_id)
            baseline_id = run.plan.baseline_run_id if run.plan else None
            if not baseline_id or baseline_id == run_id:
                return
            data = run_analyses_ensure(ids=[baseline_id, run_id], runs={run_id: run})
            if baseline_id not in data or data[run_id].get("error"):
                return
            found = verdicts(
                block_arrays(data[baseline_id]),
                block_arrays(data[run_id]),
                sample_seconds=_sample_seconds(data[baseline_id]),
            )
            run_analysis_store_verdicts(
                reference_id=baseline_id, data=data[baseline_id], new={str(run_id): verdicts_to_data(found)}
            )
    except Exception:
        log.exception("verdicts of run %s against its baseline could not be stored", run_id)
