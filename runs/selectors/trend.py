"""A plan's history: every ended run of the plan on a time axis, for its trend page and API.

Three queries whatever the number of runs: the runs (their own summary columns), the knee and
maximum throughput of their stored analyses (two columns copied out of the analysis, never the
analysis itself), and the verdicts stored in the baseline's analysis. Verdicts against the
baseline are the ones comparisons already computed and stored (``run_analysis_store_verdicts``);
a run never compared with the baseline shows none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from runs.core import capacity_search, profiles
from runs.models import Run, RunAnalysis, TestPlan
from runs.services.analysis import ANALYSIS_VERSION, OVERALL, stored_verdicts

__all__ = ["TrendPoint", "plan_trend"]


@dataclass(frozen=True)
class TrendPoint:
    run_id: int
    started_at: Any  # datetime
    status: str
    version: str
    tags: list[str]
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    rps: float | None  # mean over the run
    error_rate: float | None
    max_rps: float | None  # the best load step's throughput (stored analysis)
    knee_users: float | None  # operational-laws knee (stored analysis)
    passed: bool | None  # thresholds: None without any
    is_baseline: bool
    verdict: str | None  # overall p95 verdict against the plan's baseline, when compared
    search_capacity: float | None = None  # capacity searches: the highest passing load
    search_unit: str = ""  # "users" or "it/s"


def _number(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def plan_trend(*, plan: TestPlan) -> list[TrendPoint]:
    """Every ended run of ``plan`` that started, oldest first."""
    runs = list(
        Run.objects.filter(plan=plan, started_at__isnull=False)
        .exclude(status__in=Run.ACTIVE)
        .order_by("started_at", "id")
        .values(
            "id",
            "started_at",
            "status",
            "version",
            "tags",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "total_requests",
            "total_failures",
            "last_t",
            "passed",
            "capacity_search",
            "snapshot__profile__kind",
        )
    )
    capacity = {
        run_id: (max_rps, knee)
        for run_id, max_rps, knee in RunAnalysis.objects.filter(
            run__plan=plan, version=ANALYSIS_VERSION
        ).values_list("run_id", "max_rps", "knee_users")
    }
    verdicts: dict[int, str] = {}
    if plan.baseline_run_id:
        row = RunAnalysis.objects.filter(run_id=plan.baseline_run_id).values_list("version", "data__verdicts")
        for version, cache in row:
            stored = stored_verdicts({"verdicts": cache}) if version == ANALYSIS_VERSION else {}
            for run_id, series in stored.items():
                overall = next((entry for entry in series if entry and entry[0] == OVERALL), None)
                if overall is not None:
                    verdicts[int(run_id)] = str(overall[1])
    points = []
    for r in runs:
        seconds = r["last_t"] + 1
        max_rps, knee = capacity.get(r["id"], (None, None))
        kind = str(r["snapshot__profile__kind"] or "")
        search_low = (
            capacity_search.bracket_of((r["capacity_search"] or {}).get("decisions") or [])[0]
            if profiles.is_search(kind)
            else None
        )
        points.append(
            TrendPoint(
                run_id=r["id"],
                started_at=r["started_at"],
                status=r["status"],
                version=r["version"],
                tags=list(r["tags"] or []),
                p50_ms=r["p50_ms"],
                p95_ms=r["p95_ms"],
                p99_ms=r["p99_ms"],
                rps=r["total_requests"] / seconds if seconds > 0 else None,
                error_rate=r["total_failures"] / r["total_requests"] if r["total_requests"] else None,
                max_rps=_number(max_rps),
                knee_users=_number(knee),
                passed=r["passed"],
                is_baseline=r["id"] == plan.baseline_run_id,
                verdict=verdicts.get(r["id"]),
                search_capacity=search_low,
                search_unit=("it/s" if profiles.is_open_model(kind) else "users")
                if search_low is not None
                else "",
            )
        )
    return points
