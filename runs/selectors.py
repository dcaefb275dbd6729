"""Reads for the pages: querysets and plain rows, no writes.

Time-series reads use the columns RunSecond precomputes at ingestion (never the histograms), so
a one-hour run's page reads 3,600 small rows. Only the live per-endpoint table of a running run
merges histograms, since its summaries do not exist until the run ends.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, ExpressionWrapper, F, FloatField, QuerySet, TextField
from django.db.models.functions import Cast, NullIf

from runs import profiles
from runs.analysis.planned import planned_levels, step_length_advice
from runs.figures import SECOND_COLUMNS, series_from_rows
from runs.histogram import Histogram
from runs.models import (
    EndpointSecond,
    EndpointSummary,
    ErrorGroup,
    GeneratorSecond,
    LoadProfile,
    Run,
    RunSecond,
    Scenario,
    Target,
    Team,
    TestPlan,
)

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


def plan_list(*, team: Team) -> QuerySet[TestPlan]:
    return (
        TestPlan.objects.filter(team=team)
        .select_related("target", "scenario", "profile")
        .annotate(run_count=Count("runs"))
    )


def target_list(*, team: Team) -> QuerySet[Target]:
    return Target.objects.filter(team=team).annotate(plan_count=Count("plans"))


def scenario_list(*, team: Team) -> QuerySet[Scenario]:
    return Scenario.objects.filter(team=team).annotate(
        step_count=Count("steps", distinct=True), plan_count=Count("plans", distinct=True)
    )


def profile_list(*, team: Team) -> QuerySet[LoadProfile]:
    return LoadProfile.objects.filter(team=team).annotate(plan_count=Count("plans"))


def plans_using(*, obj: Target | Scenario | LoadProfile) -> list[TestPlan]:
    """Plans that reference ``obj`` (and so keep it from being deleted)."""
    return list(obj.plans.order_by("name", "id"))


def profile_preview(*, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """Planned curve and headline numbers of validated profile parameters."""
    plan = profiles.build_plan(kind, params)
    xs, ys = profiles.preview(plan)
    return {
        "x": xs,
        "y": ys,
        "duration": plan.duration,
        "peak_users": plan.peak_users,
        "unit": profiles.preview_unit(kind),
        # Said before saving: steps too short for a trustworthy knee or verdict ("" if none).
        "step_advice": step_length_advice([level.seconds for level in planned_levels(plan)]),
    }


def profile_preview_of(*, profile: LoadProfile) -> dict[str, Any] | None:
    """Preview of a saved profile; ``None`` when its parameters no longer build a plan."""
    try:
        return profile_preview(kind=profile.kind, params=profile.params)
    except (profiles.ProfileError, KeyError, TypeError, ValueError):
        return None


def snapshot_preview(*, snapshot: dict[str, Any]) -> tuple[list[float], list[float]] | None:
    """The planned users curve of a run, from its snapshot."""
    profile = snapshot.get("profile") or {}
    try:
        return profiles.preview(profiles.build_plan(profile["kind"], profile["params"]))
    except (profiles.ProfileError, KeyError, TypeError, ValueError):
        return None


def run_seconds(*, run: Run, after: int = -1) -> list[dict[str, Any]]:
    return list(RunSecond.objects.filter(run=run, t__gt=after).order_by("t").values(*SECOND_COLUMNS))


def run_generator_rows(*, run: Run) -> list[dict[str, Any]]:
    """Per generator, per second: requests, failures and CPU (distributed runs; else empty)."""
    if run.generators <= 1:
        return []
    return list(
        GeneratorSecond.objects.filter(run=run)
        .order_by("generator", "t")
        .values("generator", "t", "requests", "failures", "cpu_percent")
    )


def run_endpoint_rows(*, run: Run) -> list[dict[str, Any]]:
    """Per-endpoint figures: the stored summaries, or merged live while none exist yet."""
    summaries = list(
        EndpointSummary.objects.filter(run=run).order_by("name", "method").values(*ENDPOINT_COLUMNS)
    )
    if summaries or not run.is_active:
        return summaries
    return endpoint_rows_live(run=run)


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
        acc["hist"].merge(Histogram.from_dict(hist))
    seconds = max(run.last_t + 1, 1)
    out = []
    for (method, name), acc in sorted(merged.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        hist: Histogram = acc["hist"]
        ps = hist.percentiles_ms((50, 90, 95, 99)) if hist.total else {}
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
                "max_ms": hist.max_ms if hist.total else None,
                "rps": acc["requests"] / seconds,
            }
        )
    return out


def run_errors(*, run: Run, limit: int = 200) -> list[ErrorGroup]:
    return list(ErrorGroup.objects.filter(run=run).order_by("-count", "name")[:limit])


def run_progress(*, run: Run, latest: dict[str, Any] | None) -> dict[str, Any]:
    """Numbers of the progress bar of an active run."""
    elapsed = max(run.last_t + 1, 0)
    planned = run.planned_seconds or 0
    return {
        "elapsed": elapsed,
        "planned": planned,
        "percent": round(min(100.0, 100.0 * elapsed / planned), 1) if planned else 0.0,
        "users": run.current_users,
        "rps": (latest or {}).get("requests", 0) or 0,
        "error_rate": round(100.0 * run.error_rate, 2),
    }


def run_live_payload(*, run: Run, after: int) -> dict[str, Any]:
    """What the live page polls: status, totals and the seconds stored after ``after``.

    Only numbers and fixed status codes: nothing a user typed reaches this payload.
    """
    rows = run_seconds(run=run, after=after)
    latest = rows[-1] if rows else None
    if latest is None and run.last_t >= 0:
        latest = RunSecond.objects.filter(run=run, t=run.last_t).values("requests").first()
    return {
        "status": str(run.status),
        "active": run.is_active,
        "last_t": run.last_t,
        "total_requests": run.total_requests,
        "total_failures": run.total_failures,
        "progress": run_progress(run=run, latest=latest),
        "points": series_from_rows(rows),
    }


def _step_row(step: dict[str, Any]) -> dict[str, Any]:
    return {
        **step,
        "query_text": json.dumps(step.get("query")) if step.get("query") else "",
        "headers_text": json.dumps(step.get("headers")) if step.get("headers") else "",
        "extract_text": "; ".join(
            f"{r['var']} = {r['source']}:{r['expr']}" for r in step.get("extract") or []
        ),
    }


def scenario_step_rows(*, scenario: Scenario) -> list[dict[str, Any]]:
    """Steps in the shape of a run snapshot's steps, so one table shows both."""
    return [
        _step_row(
            {
                "name": step.display_name,
                "method": step.method,
                "path": step.path,
                "query": step.query,
                "headers": step.headers,
                "body_type": step.body_type,
                "body": step.body,
                "weight": step.weight,
                "expected_statuses": step.expected_statuses,
                "extract": step.extract,
            }
        )
        for step in scenario.steps.all()
    ]


def snapshot_steps(*, snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    return [_step_row(step) for step in (snapshot.get("scenario") or {}).get("steps") or []]


def profile_param_rows(*, kind: str, params: dict[str, Any]) -> list[tuple[str, Any]]:
    """(label, value) pairs of a profile's parameters, for reading rather than editing."""
    if kind == "stages":
        return [
            (
                f"Stage {i}",
                f"{s.get('duration')} s → {s.get('users')} users"
                + (f" at {s['spawn_rate']:g}/s" if s.get("spawn_rate") else ""),
            )
            for i, s in enumerate(params.get("stages") or [], start=1)
        ]
    labels = {name: label for name, label, *_ in profiles.FIELDS.get(kind, [])}
    return [(labels.get(k, k), v) for k, v in params.items() if v is not None]


def seconds_series(rows: Sequence[tuple[int, int, int, float | None]]) -> dict[str, list[Any]]:
    """(t, requests, failures, p95_ms) rows of one run -> the comparison overlays' series."""
    return {
        "t": [r[0] for r in rows],
        "rps": [r[1] for r in rows],
        "p95": [r[3] for r in rows],
        "error_pct": [(100.0 * r[2] / r[1]) if r[1] else None for r in rows],
    }


def runs_series_window(
    *, runs: QuerySet[Run], ids: Sequence[int], lo: int, hi: int
) -> list[dict[str, list[Any]]] | None:
    """Full-resolution overlay series of ``ids`` between seconds ``lo`` and ``hi`` (inclusive),
    in the order of ``ids``; ``None`` when ``runs`` (the runs the reader may see) lacks one.
    One query for the rows."""
    if runs.filter(pk__in=ids).count() != len(set(ids)):
        return None
    grouped: dict[int, list[tuple[int, int, int, float | None]]] = {i: [] for i in ids}
    rows = (
        RunSecond.objects.filter(run_id__in=ids, t__gte=lo, t__lte=hi)
        .order_by("run_id", "t")
        .values_list("run_id", "t", "requests", "failures", "p95_ms")
    )
    for run_id, t, requests, failures, p95 in rows:
        grouped[run_id].append((t, requests, failures, p95))
    return [seconds_series(grouped[i]) for i in ids]


def run_threshold_rows(*, run: Run) -> list[dict[str, Any]]:
    """The thresholds table of a run: its stored verdicts, or while none exist (an active run,
    or one from before thresholds) the snapshot's thresholds awaiting a verdict."""
    from runs import thresholds

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
                "observed": thresholds.format_value(metric, r.get("observed")),
                "limit": f"{r.get('op', '')} {thresholds.format_value(metric, r.get('value'))}",
                "verdict": r.get("verdict", ""),
                "note": r.get("note", ""),
                "aborted": bool(r.get("aborted")),
            }
        )
    return rows


def plan_threshold_labels(*, plan: TestPlan) -> list[str]:
    from runs import thresholds

    try:
        return [item.label() for item in thresholds.parse_thresholds(plan.thresholds)]
    except ValueError:
        return ["(invalid thresholds: edit the plan)"]
