"""The :class:`~runs.core.ci.driver.RunSource` of this installation: the ORM and the run services.

``run_status_payload`` and ``run_result_payload`` build the dicts the driver reads; a REST API
that returns the same dicts makes a remote source a thin HTTP client.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runs.core import capacity_search
from runs.core.ci.driver import CiError, RunResult, RunStatus
from runs.models import Run, TestPlan
from runs.selectors.capacity_search import run_search_view, search_config_of
from runs.selectors.runs import run_latest_second
from runs.services import audit
from runs.services.annotations import AnnotationError, annotations_clean
from runs.services.runs import RunError, run_cancel, run_create


def run_status_payload(*, run: Run) -> RunStatus:
    """Progress of a run: totals, and the users, requests/s and p95 of its last stored second."""
    latest: Mapping[str, Any] = run_latest_second(run=run, fields=("users", "requests", "p95_ms")) or {}
    return {
        "id": run.pk,
        "status": str(run.status),
        "active": run.is_active,
        "t": run.last_t + 1,
        "planned_seconds": float(run.planned_seconds or 0),
        "users": int(latest.get("users", run.current_users) or 0) if run.is_active else 0,
        "rps": float(latest.get("requests") or 0),
        "p95_ms": latest.get("p95_ms"),
        "requests": run.total_requests,
        "failures": run.total_failures,
    }


def run_result_payload(*, run: Run) -> RunResult:
    """A run's outcome: summary figures, the threshold verdicts and how many it was started with."""
    return {
        "id": run.pk,
        "url": run.get_absolute_url(),
        "plan": run.plan_name,
        "status": str(run.status),
        "error_message": run.error_message,
        "duration_seconds": run.duration_seconds,
        "requests": run.total_requests,
        "failures": run.total_failures,
        "rps": run.mean_rps,
        "p50_ms": run.p50_ms,
        "p95_ms": run.p95_ms,
        "p99_ms": run.p99_ms,
        "max_ms": run.max_ms,
        "passed": run.passed,
        "threshold_count": len(run.thresholds),
        "thresholds": list(run.threshold_results or []),
        "capacity": run_capacity_payload(run=run),
    }


def run_capacity_payload(*, run: Run) -> dict[str, Any] | None:
    """A capacity search's result for the CI gate; None when the run is no capacity search."""
    view = run_search_view(run=run)
    if view is None:
        return None
    low, high = capacity_search.bracket_of(view["steps"])
    baseline_id = run.plan.baseline_run_id if run.plan_id and run.plan else None
    baseline_low = None
    if baseline_id and baseline_id != run.pk:
        baseline = Run.objects.filter(pk=baseline_id).only("snapshot", "capacity_search").first()
        config = search_config_of(snapshot=baseline.snapshot) if baseline else None
        if baseline is not None and config is not None and config.unit() == view["unit"]:
            baseline_low = capacity_search.bracket_of(
                (baseline.capacity_search or {}).get("decisions") or []
            )[0]
    return {
        "low": low,
        "high": high,
        "unit": view["unit"],
        "status": (view["outcome"] or {}).get("status"),
        "answer": view["answer"],
        "baseline_run": baseline_id if baseline_low is not None else None,
        "baseline_low": baseline_low,
    }


class LocalRunSource:
    """Starts ``plan`` through ``run_create`` (the Start button's path: caps and safety checks
    apply) as ``user``, then reads the run's row."""

    def __init__(
        self, *, plan: TestPlan, user: Any, version: str = "", tags: list[str] | None = None
    ) -> None:
        self.plan = plan
        self.user = user
        self.version = version
        self.tags = list(tags or [])
        self.run: Run | None = None

    def _run(self) -> Run:
        if self.run is None:
            raise CiError("no run was started")
        self.run.refresh_from_db()
        return self.run

    def start(self) -> dict[str, Any]:
        try:
            annotations = annotations_clean(version=self.version, tags=self.tags)
            self.run = run_create(
                plan=self.plan, user=self.user, trigger=Run.Trigger.CI, annotations=annotations
            )
        except (RunError, AnnotationError) as exc:
            raise CiError(str(exc)) from exc
        return {"id": self.run.pk, "url": self.run.get_absolute_url()}

    def poll(self) -> RunStatus:
        return run_status_payload(run=self._run())

    def result(self) -> RunResult:
        return run_result_payload(run=self._run())

    def cancel(self) -> None:
        with audit.acting(user=self.user, via=audit.Via.CI):
            run_cancel(run=self._run())
