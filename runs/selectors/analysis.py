"""Reads for the analysis pages: capacity of one run, its baseline verdict, comparisons.

The expensive part (steps, CIs, knee, USL, validity, per-endpoint steps, bottlenecks and the
block series verdicts use) is computed once per run by ``runs.services.analysis`` and stored
in ``RunAnalysis``; these read it (``run_analyses_ensure`` computes and stores it for a run that
has none yet, or one of an older format) and run only the cheap verdicts.

Query counts are fixed per page, whatever the number of runs or endpoints, once the runs'
analyses are stored: ``runs_compare`` makes four (runs, seconds, the parts of the analyses it
shows, endpoint summaries), and two more (the block series, and storing the verdicts in the
reference's analysis) when some pair of ended runs has none stored yet; ``run_capacity`` one;
``run_baseline_verdict`` one.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db.models import QuerySet

from runs.core import capacity_search
from runs.core.analysis import Comparison, auto_block_seconds, compare_endpoints
from runs.core.analysis.stored import (
    CapacityAnalysis,
    capacity_from_data,
    verdicts_from_data,
    verdicts_to_data,
)
from runs.core.analysis.verdicts import CapacityChange, capacity_change
from runs.models import EndpointSummary, Run
from runs.selectors.capacity_search import search_config_of
from runs.selectors.control import runs_timeline_markers
from runs.selectors.runs import runs_seconds_columns, seconds_series_columns
from runs.services.analysis import (
    BLOCK_SECONDS,
    OVERALL,
    endpoint_key,
    is_closed_model,
    profile_kind,
    run_analyses_blocks,
    run_analyses_compare_digests,
    run_analyses_ensure,
    run_analysis_store_verdicts,
    stored_verdicts,
)

__all__ = ["CapacityAnalysis", "run_baseline_verdict", "run_capacity", "runs_compare"]

MAX_COMPARE_RUNS = 20
MAX_BLOCKS = 150  # per run and series, in a verdict


# -- one run: capacity, validity, bottlenecks ---------------------------------------------------
def run_capacity(*, run: Run) -> CapacityAnalysis | None:
    """Steps, knee, USL fit, validity warnings and (stepped runs) per-endpoint capacity.

    ``None`` until the run has ended: a running run's steps are not complete.
    """
    if run.is_active or run.last_t < 0:
        return None
    return capacity_from_data(run_analyses_ensure(ids=[run.pk], runs={run.pk: run})[run.pk])


# -- run vs its plan's baseline -----------------------------------------------------------------
@dataclass(frozen=True)
class BaselineVerdict:
    baseline_id: int
    comparison: Comparison
    search_change: dict[str, Any] | None = None  # two capacity searches: their capacities


Blocks = tuple[np.ndarray, dict[str, np.ndarray]]  # users of each block; p95 means by series


def block_arrays(data: Mapping[str, Any]) -> Blocks:
    """A stored analysis' block series as arrays: the run's under ``OVERALL``, then each
    endpoint's (missing blocks are NaN)."""
    blocks = data.get("blocks") or {}
    series = {OVERALL: blocks.get("overall") or [], **(blocks.get("endpoints") or {})}
    return (
        np.asarray(blocks.get("users") or [], dtype=np.int64),
        {name: np.asarray(values, dtype=float) for name, values in series.items()},
    )


def level_medians(users: np.ndarray, values: np.ndarray) -> dict[int, float]:
    """Median of the finite ``values`` at each load level of ``users`` (ascending levels),
    for the levels where it is positive: what ``paired_series`` divides by."""
    medians = {}
    for level in np.unique(users):
        finite = values[(users == level) & np.isfinite(values)]
        median = float(np.median(finite)) if finite.size else 0.0
        if median > 0:
            medians[int(level)] = median
    return medians


def paired_series(
    reference: tuple[np.ndarray, np.ndarray],
    candidate: tuple[np.ndarray, np.ndarray],
    *,
    reference_medians: Mapping[int, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The two series a verdict compares, from (users, values) of each run's blocks.

    Latency depends on load far more than on the change being judged, so pooling the steps of
    a staircase would bury a 20 % regression under the spread between steps. Blocks at load
    levels both runs reached are divided by the reference's median at that level; the shift
    the test then measures is relative to the reference at equal load. Runs without a common
    level fall back to the raw pooled values. ``reference_medians`` is
    ``level_medians(*reference)``, when the caller pairs one reference with several runs.
    """
    (ref_users, ref_values), (cand_users, cand_values) = reference, candidate
    if reference_medians is None:
        reference_medians = level_medians(ref_users, ref_values)
    common = set(np.unique(cand_users).tolist())
    medians = {level: m for level, m in reference_medians.items() if level in common}
    if not medians:
        return ref_values, cand_values
    levels = np.fromiter(medians, dtype=np.int64)  # ascending: intersect1d sorts
    scale = np.fromiter(medians.values(), dtype=float)

    def normalised(users: np.ndarray, values: np.ndarray) -> np.ndarray:
        at = np.clip(np.searchsorted(levels, users), 0, len(levels) - 1)
        keep = levels[at] == users
        return values[keep] / scale[at][keep]

    return normalised(ref_users, ref_values), normalised(cand_users, cand_values)


def verdict_block_seconds(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]], *, sample_seconds: int
) -> int | None:
    """One block length (seconds) for every series of a comparison of stored block series.

    The longest of the automatic block lengths (``auto_block_seconds``: the most autocorrelated
    series sets it), and long enough to leave at most ``MAX_BLOCKS`` blocks per run: the
    Hodges–Lehmann CI sorts all m·n block differences.
    """
    pairs = [(a, b) for a, b in pairs if len(a) and len(b)]
    if not pairs:
        return None
    auto = max(auto_block_seconds(a, b, sample_seconds=sample_seconds) for a, b in pairs)
    longest = max(max(len(a), len(b)) for a, b in pairs)
    return max(auto, sample_seconds * math.ceil(longest / MAX_BLOCKS))


def verdicts(
    reference: Blocks,
    candidate: Blocks,
    *,
    sample_seconds: int,
    endpoints: bool = True,
    reference_medians: dict[str, dict[int, float]] | None = None,
) -> dict[str, Comparison]:
    """p95 verdicts of ``candidate`` against ``reference`` (``block_arrays``): ``OVERALL`` and,
    with ``endpoints``, every endpoint of both, Benjamini–Hochberg adjusted together.

    ``reference_medians`` (series name -> ``level_medians``) is filled as a cache: pass the
    same dict for every candidate compared with one reference."""
    (ref_users, ref_series), (cand_users, cand_series) = reference, candidate
    names = [n for n in ref_series if n in cand_series and (endpoints or n == OVERALL)]
    cache = {} if reference_medians is None else reference_medians
    for n in names:
        if n not in cache:
            cache[n] = level_medians(ref_users, ref_series[n])
    pairs = {
        n: paired_series((ref_users, ref_series[n]), (cand_users, cand_series[n]), reference_medians=cache[n])
        for n in names
    }
    return compare_endpoints(
        {name: pair[0] for name, pair in pairs.items()},
        {name: pair[1] for name, pair in pairs.items()},
        block_seconds=verdict_block_seconds(pairs.values(), sample_seconds=sample_seconds),
        sample_seconds=sample_seconds,
    )


def _sample_seconds(data: Mapping[str, Any]) -> int:
    return int((data.get("blocks") or {}).get("seconds") or BLOCK_SECONDS)


def run_baseline_verdict(*, run: Run) -> BaselineVerdict | None:
    """The overall verdict of ``run`` against its plan's baseline (another, finished run)."""
    if run.status != Run.Status.FINISHED or not run.plan_id:
        return None
    baseline_id = run.plan.baseline_run_id if run.plan else None
    if not baseline_id or baseline_id == run.pk:
        return None
    data = run_analyses_ensure(ids=[baseline_id, run.pk], runs={run.pk: run})
    if baseline_id not in data:  # deleted meanwhile
        return None
    comparison = verdicts(
        block_arrays(data[baseline_id]),
        block_arrays(data[run.pk]),
        sample_seconds=_sample_seconds(data[baseline_id]),
        endpoints=False,
    )[OVERALL]
    baseline = Run.objects.only("snapshot", "capacity_search").get(pk=baseline_id)
    return BaselineVerdict(
        baseline_id=baseline_id, comparison=comparison, search_change=runs_search_change(baseline, run)
    )


def runs_search_change(reference: Run, candidate: Run) -> dict[str, Any] | None:
    """Two capacity searches of the same model: the candidate's capacity against the reference's."""
    ref_config = search_config_of(snapshot=reference.snapshot)
    cand_config = search_config_of(snapshot=candidate.snapshot)
    if ref_config is None or cand_config is None or ref_config.model != cand_config.model:
        return None
    return capacity_search.search_change(
        (reference.capacity_search or {}).get("decisions") or [],
        (candidate.capacity_search or {}).get("decisions") or [],
        unit=cand_config.unit(),
    )


# -- several runs --------------------------------------------------------------------------------
class RunsNotFound(LookupError):
    """Some of the ids asked for are not runs; ``args[0]`` lists them."""


@dataclass(frozen=True)
class CompareRun:
    run: Run
    label: str  # "#12 · plan name · version" (raw; templates and figures escape it)
    series: dict[str, list[Any]]  # t, rps, p95, error_pct: per second, aligned at start
    windows: list[tuple[int, int, int]]  # steady (users, first t, last t)
    capacity: list[dict[str, float]]  # per step: users, rps, p50/p95/p99_ms, error_rate
    closed_model: bool
    verdict: Comparison | None  # overall p95 vs the reference run; None for the reference
    usl: dict[str, Any] | None = None  # the stored USL fit, where one was fitted
    knee: dict[str, Any] | None = None  # the stored knee (headline, knee_users, ...)
    capacity_change: CapacityChange | None = None  # max throughput and knee vs the reference
    search_change: dict[str, Any] | None = None  # two capacity searches: capacity vs the reference
    controls: tuple[dict[str, Any], ...] = ()  # live changes applied to the run: chart markers {id, t, label}


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
    in_reference: bool = True  # the reference run has results for this endpoint


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

    @property
    def any_controls(self) -> bool:
        return any(r.controls for r in self.runs)


def runs_compare(
    *, runs: QuerySet[Run], ids: Sequence[int], reference_id: int | None = None
) -> RunsComparison:
    """Compare runs ``ids`` (all must exist) against ``reference_id`` (default: the baseline of
    the first run's plan when it is among them, else the baseline of another compared run's
    plan, else the first run).

    Verdicts compare each run's steady-state p95 (block means of the detected steps after
    warm-up trimming, stored in its analysis), normalised per load level by ``paired_series``,
    with ``compare_endpoints``; the overall series is RunSecond's p95.
    """
    by_id = {r.pk: r for r in runs.filter(pk__in=ids).select_related("plan")}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise RunsNotFound(missing)
    ordered = [by_id[i] for i in ids]
    baselines = [r.plan.baseline_run_id for r in ordered if r.plan is not None]
    ref: int = (
        reference_id
        if reference_id is not None and reference_id in ids
        else next((b for b in baselines if b is not None and b in ids), ids[0])
    )

    seconds = runs_seconds_columns(ids=ids, runs=by_id)
    controls = runs_timeline_markers(ids=ids)

    # Of each stored analysis only what the page shows (steps, knee, USL, stored verdicts,
    # endpoint names); the block series only for verdicts not stored yet.
    digests = run_analyses_compare_digests(ids=ids, runs=by_id)
    analyses = {i: d.data for i, d in digests.items()}

    summaries: dict[int, dict[str, Mapping[str, Any]]] = defaultdict(dict)
    for row in EndpointSummary.objects.filter(run_id__in=ids).values(
        "run_id", "method", "name", "requests", "failures", "p95_ms", "p99_ms", "rps"
    ):
        summaries[row["run_id"]][endpoint_key(row["method"], row["name"])] = row

    overall: dict[int, Comparison] = {}
    by_endpoint: dict[int, dict[str, Comparison]] = {}
    reference_medians: dict[str, dict[int, float]] = {}
    # Verdicts between ended runs never change: the reference's analysis keeps them, so a
    # shared link computes them on its first view only.
    stored = stored_verdicts(analyses[ref]) if not by_id[ref].is_active else {}

    def cacheable(i: int) -> bool:
        return not by_id[ref].is_active and not by_id[i].is_active

    to_compute = [i for i in ids if i != ref and not (cacheable(i) and str(i) in stored)]
    blocks: dict[int, Blocks] = {}
    if to_compute:
        needed = [ref, *to_compute]
        read = run_analyses_blocks(ids=[i for i in needed if not digests[i].complete])
        blocks = {
            i: block_arrays(analyses[i] if digests[i].complete else {"blocks": read.get(i) or {}})
            for i in needed
        }
    new: dict[str, Any] = {}
    for i in ids:
        if i == ref:
            continue
        if i not in to_compute:
            by_endpoint[i] = verdicts_from_data(stored[str(i)])
        else:
            by_endpoint[i] = verdicts(
                blocks[ref],
                blocks[i],
                sample_seconds=_sample_seconds(analyses[ref]),
                reference_medians=reference_medians,
            )
            if cacheable(i):
                new[str(i)] = verdicts_to_data(by_endpoint[i])
        overall[i] = by_endpoint[i].pop(OVERALL)
    if new:
        run_analysis_store_verdicts(reference_id=ref, data=analyses[ref], new=new)

    compare_runs = []
    for run in ordered:
        steps = analyses[run.pk]["steps"]
        compare_runs.append(
            CompareRun(
                run=run,
                label=f"#{run.pk} · {run.plan_name}" + (f" · {run.version}" if run.version else ""),
                series=seconds_series_columns(
                    seconds.get(run.pk) or ([], [], [], []), resolution_s=run.resolution_s, last_t=run.last_t
                ),
                windows=[(s["users"], s["start_t"], s["end_t"]) for s in steps],
                capacity=[
                    {
                        "users": s["users"],
                        "rps": s["throughput_rps"],
                        "p50_ms": s["p50_ms"],
                        "p95_ms": s["p95_ms"],
                        "p99_ms": s["p99_ms"],
                        "error_rate": s["error_rate"],
                    }
                    for s in steps
                ],
                closed_model=is_closed_model(profile_kind(run)),
                verdict=overall.get(run.pk),
                usl=analyses[run.pk].get("usl"),
                knee=analyses[run.pk].get("knee"),
                capacity_change=capacity_change(analyses[ref], analyses[run.pk]) if run.pk != ref else None,
                search_change=runs_search_change(by_id[ref], run) if run.pk != ref else None,
                controls=tuple(controls.get(run.pk, ())),
            )
        )

    endpoint_series = {i: digests[i].endpoint_names for i in ids}
    endpoints = sorted(
        {name for i in ids for name in summaries[i]} | {n for i in ids for n in endpoint_series[i]}
    )
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
                    p95_delta=_relative(s["p95_ms"] if s else None, ref_row["p95_ms"] if ref_row else None)
                    if i != ref
                    else None,
                    rps_delta=_relative(s["rps"] if s else None, ref_row["rps"] if ref_row else None)
                    if i != ref
                    else None,
                    comparison=by_endpoint.get(i, {}).get(name),
                    in_reference=name in summaries[ref] or name in endpoint_series[ref],
                )
            )
    return RunsComparison(
        reference_id=ref, runs=compare_runs, overall=overall, endpoints=endpoints, endpoint_rows=rows
    )


def _relative(value: float | None, reference: float | None) -> float | None:
    if value is None or not reference:
        return None
    return value / reference - 1.0
