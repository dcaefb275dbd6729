"""Reads for the analysis pages: capacity of one run, its baseline verdict, comparisons.

These load RunSecond / EndpointSecond rows into ``runs.analysis`` inputs and call the pure
analysis functions; they never write. Time series come from the columns RunSecond precomputes at
ingestion; histograms are read only where a per-step percentile needs them, and merged per step.

Query counts are fixed per page, whatever the number of runs or endpoints:
``runs_compare`` makes five (runs, seconds, endpoint series, endpoint summaries, step
histograms); ``run_baseline_verdict`` one (plus the plan, when not cached on the run).
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import Q

from runs.analysis import (
    BottleneckReport,
    Comparison,
    IntervalPoint,
    KneeResult,
    StepAggregate,
    UslFit,
    ValidityWarning,
    aggregate_steps,
    check_validity,
    compare_endpoints,
    compare_samples,
    detect_steps,
    find_knee_from_steps,
    fit_usl,
    rank_bottlenecks,
)
from runs.histogram import Histogram
from runs.models import EndpointSecond, EndpointSummary, Run, RunSecond

# Profile kinds of the open (arrival-rate) model; every other kind is closed-model.
ARRIVAL_KINDS = frozenset({"arrival_constant", "arrival_ramp"})
# Kinds whose plan is a series of load levels: the capacity section always shows for them.
STEPPED_KINDS = frozenset({"staircase", "stages", "arrival_ramp"})

MIN_STEP_SECONDS = 10
WARMUP_SECONDS = 5
# Bootstrap resamples for the p95 CI: enough for a stable 95% interval, and a one-hour run's
# twelve steps still take about a second. Per-endpoint steps show no CI, so they use fewer.
RUN_RESAMPLES = 400
ENDPOINT_RESAMPLES = 50
MAX_COMPARE_RUNS = 20
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


def histogram_from_row(data: Mapping[str, Any] | None) -> Histogram:
    """A Histogram from a stored ``to_dict`` row without per-key validation.

    Rows are written by our own ingestion (sorted unique keys, non-negative counts), so this
    skips ``Histogram.from_dict``'s Python loop: about three times faster on a one-hour run.
    """
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


def merge_histogram_rows(rows: Iterable[Mapping[str, Any] | None]) -> Histogram:
    """Merge many stored histograms at once with numpy (for per-step percentiles only)."""
    rows = [r for r in rows if r and r.get("k")]
    h = Histogram()
    if not rows:
        return h
    keys = np.fromiter(itertools.chain.from_iterable(r["k"] for r in rows), dtype=np.int64)
    counts = np.fromiter(itertools.chain.from_iterable(r["c"] for r in rows), dtype=np.int64)
    unique, inverse = np.unique(keys, return_inverse=True)
    summed = np.bincount(inverse, weights=counts).astype(np.int64)
    h.counts = {int(k): int(c) for k, c in zip(unique, summed, strict=True) if c}
    h.total = int(summed.sum())
    nonempty = [r for r in rows if sum(r["c"])]
    h.min_us = min((int(r.get("min", 0)) for r in nonempty), default=0)
    h.max_us = max((int(r.get("max", 0)) for r in nonempty), default=0)
    h.sum_us = sum(int(r.get("sum", 0)) for r in rows)
    return h


def steady_windows(users_by_t: Sequence[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(users, first t, last t) of each detected step after warm-up trimming.

    Same grouping and trim as ``aggregate_steps`` with this module's defaults, without loading
    any histogram.
    """
    empty = Histogram()
    points = [IntervalPoint(t=t, users=u, requests=0, failures=0, histogram=empty) for t, u in users_by_t]
    out = []
    for step in detect_steps(points, min_step_seconds=MIN_STEP_SECONDS):
        trim = min(WARMUP_SECONDS, step.seconds - 1)
        out.append((step.users, step.points[trim].t, step.end_t))
    return out


# -- one run: capacity, validity, bottlenecks ---------------------------------------------------
@dataclass(frozen=True)
class CapacityAnalysis:
    """Everything the run page's capacity and validity sections show."""

    kind: str
    closed_model: bool
    show_capacity: bool
    steps: list[StepAggregate]
    knee: KneeResult | None
    usl: UslFit | None
    usl_note: str
    think_time_s: float
    endpoint_steps: dict[str, list[StepAggregate]] = field(default_factory=dict)
    bottlenecks: BottleneckReport | None = None
    warnings: list[ValidityWarning] = field(default_factory=list)


def run_interval_points(*, run: Run) -> list[IntervalPoint]:
    rows = (
        RunSecond.objects.filter(run=run)
        .order_by("t")
        .values_list("t", "users", "requests", "failures", "cpu_percent", "histogram")
        .iterator(chunk_size=2000)
    )
    return [
        IntervalPoint(t=t, users=u, requests=r, failures=f, histogram=histogram_from_row(h), cpu_percent=cpu)
        for t, u, r, f, cpu, h in rows
    ]


def run_endpoint_points(*, run: Run, users_by_t: Mapping[int, int]) -> dict[str, list[IntervalPoint]]:
    """Per-endpoint seconds; users come from the run's second (endpoints share the users)."""
    out: dict[str, list[IntervalPoint]] = defaultdict(list)
    rows = (
        EndpointSecond.objects.filter(run=run)
        .order_by("method", "name", "t")
        .values_list("method", "name", "t", "requests", "failures", "histogram")
        .iterator(chunk_size=2000)
    )
    for method, name, t, requests, failures, hist in rows:
        users = users_by_t.get(t)
        if users is None:
            continue
        out[endpoint_key(method, name)].append(
            IntervalPoint(t=t, users=users, requests=requests, failures=failures, histogram=histogram_from_row(hist))
        )
    return dict(out)


def run_capacity(*, run: Run) -> CapacityAnalysis | None:
    """Steps, knee, USL fit, validity warnings and (stepped runs) per-endpoint capacity.

    ``None`` until the run has ended: a running run's steps are not complete.
    """
    if run.is_active or run.last_t < 0:
        return None
    kind = profile_kind(run)
    closed = is_closed_model(kind)
    think = think_time_seconds(run)
    points = run_interval_points(run=run)
    steps = aggregate_steps(
        points, min_step_seconds=MIN_STEP_SECONDS, warmup_seconds=WARMUP_SECONDS, bootstrap_resamples=RUN_RESAMPLES
    )
    show = bool(steps) and (kind in STEPPED_KINDS or len(steps) >= 2)
    warnings = check_validity(steps, points=points, closed_model=closed, used_for_capacity=show)
    if not show:
        return CapacityAnalysis(
            kind=kind, closed_model=closed, show_capacity=False, steps=steps, knee=None, usl=None,
            usl_note="", think_time_s=think, warnings=warnings,
        )

    knee = find_knee_from_steps(steps, think_time_s=think)
    usl, usl_note = _fit_usl(steps)
    users_by_t = {p.t: p.users for p in points}
    del points  # the per-second histograms are not needed any more
    endpoint_steps = {
        name: aggregate_steps(
            pts, min_step_seconds=MIN_STEP_SECONDS, warmup_seconds=WARMUP_SECONDS,
            bootstrap_resamples=ENDPOINT_RESAMPLES,
        )
        for name, pts in run_endpoint_points(run=run, users_by_t=users_by_t).items()
    }
    endpoint_steps = {name: s for name, s in endpoint_steps.items() if s}
    bottlenecks = rank_bottlenecks(endpoint_steps) if len(endpoint_steps) >= 2 else None
    return CapacityAnalysis(
        kind=kind, closed_model=closed, show_capacity=True, steps=steps, knee=knee, usl=usl,
        usl_note=usl_note, think_time_s=think, endpoint_steps=endpoint_steps,
        bottlenecks=bottlenecks, warnings=warnings,
    )


def _fit_usl(steps: Sequence[StepAggregate]) -> tuple[UslFit | None, str]:
    users = [s.users for s in steps if s.throughput_rps > 0]
    if len(set(users)) < 3:
        return None, "The USL needs at least three load steps with throughput."
    try:
        return fit_usl(users, [s.throughput_rps for s in steps if s.throughput_rps > 0]), ""
    except (ValueError, RuntimeError) as exc:  # RuntimeError: curve_fit did not converge
        return None, f"The USL fit failed: {exc}"


# -- run vs its plan's baseline -----------------------------------------------------------------
@dataclass(frozen=True)
class BaselineVerdict:
    baseline_id: int
    comparison: Comparison


def steady_values(rows: Sequence[tuple[int, int, float | None]]) -> list[tuple[int, float]]:
    """(users, value) of the steady-state seconds, from (t, users, value) rows ordered by t."""
    keep = {t for _, lo, hi in steady_windows([(t, u) for t, u, _ in rows]) for t in range(lo, hi + 1)}
    return [(u, v if v is not None else math.nan) for t, u, v in rows if t in keep]


def paired_series(
    reference: Sequence[tuple[int, float]], candidate: Sequence[tuple[int, float]]
) -> tuple[np.ndarray, np.ndarray]:
    """The two per-second series a verdict compares, from (users, value) seconds.

    Latency depends on load far more than on the change being judged, so pooling the steps of
    a staircase would bury a 20 % regression under the spread between steps. Seconds at load
    levels both runs reached are divided by the reference's median at that level; the shift
    the test then measures is relative to the reference at equal load. Runs without a common
    level fall back to the raw pooled values.
    """
    levels = {u for u, _ in reference} & {u for u, _ in candidate}
    medians = {}
    for level in levels:
        values = np.asarray([v for u, v in reference if u == level], dtype=float)
        finite = values[np.isfinite(values)]
        if finite.size and np.median(finite) > 0:
            medians[level] = float(np.median(finite))
    if not medians:
        return (
            np.asarray([v for _, v in reference], dtype=float),
            np.asarray([v for _, v in candidate], dtype=float),
        )
    return (
        np.asarray([v / medians[u] for u, v in reference if u in medians], dtype=float),
        np.asarray([v / medians[u] for u, v in candidate if u in medians], dtype=float),
    )


def run_baseline_verdict(*, run: Run) -> BaselineVerdict | None:
    """The overall verdict of ``run`` against its plan's baseline (another, finished run)."""
    if run.status != Run.Status.FINISHED or not run.plan_id:
        return None
    baseline_id = run.plan.baseline_run_id if run.plan else None
    if not baseline_id or baseline_id == run.pk:
        return None
    rows: dict[int, list[tuple[int, int, float | None]]] = {baseline_id: [], run.pk: []}
    for run_id, t, users, p95 in (
        RunSecond.objects.filter(run_id__in=[baseline_id, run.pk])
        .order_by("run_id", "t")
        .values_list("run_id", "t", "users", "p95_ms")
    ):
        rows[run_id].append((t, users, p95))
    comparison = compare_samples(*paired_series(steady_values(rows[baseline_id]), steady_values(rows[run.pk])))
    return BaselineVerdict(baseline_id=baseline_id, comparison=comparison)


# -- several runs --------------------------------------------------------------------------------
class RunsNotFound(LookupError):
    """Some of the ids asked for are not runs; ``args[0]`` lists them."""


@dataclass(frozen=True)
class CompareRun:
    run: Run
    label: str  # "#12 · plan name" (raw; templates and figures escape it)
    series: dict[str, list[Any]]  # t, rps, p95, error_pct: per second, aligned at start
    windows: list[tuple[int, int, int]]  # steady (users, first t, last t)
    capacity: list[dict[str, float]]  # per step: users, rps, p50/p95/p99_ms, error_rate
    closed_model: bool
    verdict: Comparison | None  # overall p95 vs the reference run; None for the reference


@dataclass(frozen=True)
class EndpointCompareRow:
    endpoint: str
    run_id: int
    is_reference: bool
    rps: float | None
    p95_ms: float | None
    p99_ms: float | None
    error_pct: float | None
    p95_delta: float | None  # relative to the reference run's p95
    rps_delta: float | None
    comparison: Comparison | None


@dataclass(frozen=True)
class RunsComparison:
    reference_id: int
    runs: list[CompareRun]
    overall: dict[int, Comparison]  # candidate run id -> overall verdict vs the reference
    endpoints: list[str]
    endpoint_rows: list[EndpointCompareRow]

    @property
    def any_closed_model(self) -> bool:
        return any(r.closed_model for r in self.runs)


def runs_compare(*, ids: Sequence[int], reference_id: int | None = None) -> RunsComparison:
    """Compare runs ``ids`` (all must exist) against ``reference_id`` (default: the first).

    Verdicts compare per-second p95 of each run's steady state (detected steps after warm-up
    trimming), normalised per load level by ``paired_series``, with ``compare_endpoints``; the
    overall series is RunSecond's p95.
    """
    ref = reference_id if reference_id in ids else ids[0]
    by_id = {r.pk: r for r in Run.objects.filter(pk__in=ids)}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise RunsNotFound(missing)
    runs = [by_id[i] for i in ids]

    seconds: dict[int, list[tuple[int, int, int, int, float | None]]] = defaultdict(list)
    for run_id, t, users, requests, failures, p95 in (
        RunSecond.objects.filter(run_id__in=ids)
        .order_by("run_id", "t")
        .values_list("run_id", "t", "users", "requests", "failures", "p95_ms")
    ):
        seconds[run_id].append((t, users, requests, failures, p95))

    windows = {i: steady_windows([(r[0], r[1]) for r in seconds[i]]) for i in ids}
    steady_ts = {i: {t for _, lo, hi in windows[i] for t in range(lo, hi + 1)} for i in ids}
    users_at = {i: {r[0]: r[1] for r in seconds[i]} for i in ids}
    overall_series = {
        i: [(r[1], r[4] if r[4] is not None else math.nan) for r in seconds[i] if r[0] in steady_ts[i]]
        for i in ids
    }

    # One row per (run, endpoint) with its per-second p95 as arrays: 200 rows instead of
    # 720,000 for ten one-hour runs with twenty endpoints.
    endpoint_series: dict[int, dict[str, list[tuple[int, float]]]] = defaultdict(dict)
    for row in (
        EndpointSecond.objects.filter(run_id__in=ids)
        .values("run_id", "method", "name")
        .annotate(ts=ArrayAgg("t", order_by="t"), p95s=ArrayAgg("p95_ms", order_by="t"))
        .order_by()
    ):
        keep, users = steady_ts[row["run_id"]], users_at[row["run_id"]]
        endpoint_series[row["run_id"]][endpoint_key(row["method"], row["name"])] = [
            (users[t], v if v is not None else math.nan)
            for t, v in zip(row["ts"], row["p95s"], strict=True)
            if t in keep
        ]

    summaries: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
    for row in EndpointSummary.objects.filter(run_id__in=ids).values(
        "run_id", "method", "name", "requests", "failures", "p95_ms", "p99_ms", "rps"
    ):
        summaries[row["run_id"]][endpoint_key(row["method"], row["name"])] = row

    capacity = _step_capacity(ids=ids, seconds=seconds, windows=windows)

    overall: dict[int, Comparison] = {}
    by_endpoint: dict[int, dict[str, Comparison]] = {}
    for i in ids:
        if i == ref:
            continue
        base_raw = {OVERALL: overall_series[ref], **endpoint_series.get(ref, {})}
        cand_raw = {OVERALL: overall_series[i], **endpoint_series.get(i, {})}
        pairs = {name: paired_series(base_raw[name], cand_raw[name]) for name in base_raw if name in cand_raw}
        results = compare_endpoints(
            {name: pair[0] for name, pair in pairs.items()}, {name: pair[1] for name, pair in pairs.items()}
        )
        overall[i] = results.pop(OVERALL)
        by_endpoint[i] = results

    compare_runs = [
        CompareRun(
            run=run,
            label=f"#{run.pk} · {run.plan_name}",
            series=_series(seconds[run.pk]),
            windows=windows[run.pk],
            capacity=capacity[run.pk],
            closed_model=is_closed_model(profile_kind(run)),
            verdict=overall.get(run.pk),
        )
        for run in runs
    ]

    endpoints = sorted({name for i in ids for name in summaries[i]} | {n for i in ids for n in endpoint_series[i]})
    rows: list[EndpointCompareRow] = []
    for name in endpoints:
        ref_row = summaries[ref].get(name)
        for i in [ref, *[j for j in ids if j != ref]]:
            s = summaries[i].get(name)
            if s is None and name not in endpoint_series[i]:
                continue
            rows.append(
                EndpointCompareRow(
                    endpoint=name,
                    run_id=i,
                    is_reference=i == ref,
                    rps=s["rps"] if s else None,
                    p95_ms=s["p95_ms"] if s else None,
                    p99_ms=s["p99_ms"] if s else None,
                    error_pct=100.0 * s["failures"] / s["requests"] if s and s["requests"] else None,
                    p95_delta=_relative(s and s["p95_ms"], ref_row and ref_row["p95_ms"]) if i != ref else None,
                    rps_delta=_relative(s and s["rps"], ref_row and ref_row["rps"]) if i != ref else None,
                    comparison=by_endpoint.get(i, {}).get(name),
                )
            )
    return RunsComparison(
        reference_id=ref, runs=compare_runs, overall=overall, endpoints=endpoints, endpoint_rows=rows
    )


def _relative(value: float | None, reference: float | None) -> float | None:
    if value is None or not reference:
        return None
    return value / reference - 1.0


def _series(rows: Sequence[tuple[int, int, int, int, float | None]]) -> dict[str, list[Any]]:
    return {
        "t": [r[0] for r in rows],
        "rps": [r[2] for r in rows],
        "p95": [r[4] for r in rows],
        "error_pct": [(100.0 * r[3] / r[2]) if r[2] else None for r in rows],
    }


def _step_capacity(
    *,
    ids: Sequence[int],
    seconds: Mapping[int, Sequence[tuple[int, int, int, int, float | None]]],
    windows: Mapping[int, Sequence[tuple[int, int, int]]],
) -> dict[int, list[dict[str, float]]]:
    """Per step of each run: users, achieved req/s, error rate and exact p95 (merged histograms).

    One query fetches only the histograms of steady-state seconds; they are merged per step.
    """
    out: dict[int, list[dict[str, float]]] = {i: [] for i in ids}
    where = Q()
    for i in ids:
        for _, lo, hi in windows[i]:
            where |= Q(run_id=i, t__gte=lo, t__lte=hi)
    hists: dict[tuple[int, int], list[Any]] = defaultdict(list)
    if where:
        step_of = {
            (i, t): k for i in ids for k, (_, lo, hi) in enumerate(windows[i]) for t in range(lo, hi + 1)
        }
        for run_id, t, hist in (
            RunSecond.objects.filter(where).values_list("run_id", "t", "histogram").iterator(chunk_size=2000)
        ):
            k = step_of.get((run_id, t))
            if k is not None:
                hists[(run_id, k)].append(hist)
    for i in ids:
        by_t = {r[0]: r for r in seconds[i]}
        for k, (users, lo, hi) in enumerate(windows[i]):
            rows = [by_t[t] for t in range(lo, hi + 1) if t in by_t]
            requests = sum(r[2] for r in rows)
            failures = sum(r[3] for r in rows)
            merged = merge_histogram_rows(hists.get((i, k), []))
            pct = merged.percentiles_ms([50, 95, 99]) if merged.total else {50: None, 95: None, 99: None}
            out[i].append(
                {
                    "users": users,
                    "rps": requests / len(rows) if rows else 0.0,
                    "p50_ms": pct[50],
                    "p95_ms": pct[95],
                    "p99_ms": pct[99],
                    "error_rate": failures / requests if requests else 0.0,
                }
            )
    return out
