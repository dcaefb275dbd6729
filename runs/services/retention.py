"""Retention: old runs' per-second rows rolled up into 10-second rows, exactly.

After ``SCALETEST_RETENTION_DAYS`` days (by ``finished_at``), an ended run that is neither
pinned nor any plan's baseline has its RunSecond, EndpointSecond and GeneratorSecond rows
merged per 10-second window (``runs.core.rollup``), in one transaction per run, and records
``resolution_s`` and ``rolled_up_at``. Nothing whole-run is recomputed: totals, percentiles,
EndpointSummary rows, threshold verdicts and the stored analysis are left as they are (they
are exact merges, which the roll-up does not change). The analysis is brought up to date first
and then kept: a rolled run is never re-analysed (``runs.services.analysis``).

Server-metric points (RunMetricPoint) are left as they are: they are scraped every few seconds
already and are a small share of a run's bytes.

Idempotent: a run already rolled up is not a candidate, and each run is claimed in its
transaction (``resolution_s=1``), so two overlapping invocations roll it once.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone

from runs.core import rollup
from runs.models import EndpointSecond, GeneratorSecond, PackedSeconds, Run, RunSecond, TestPlan
from runs.selectors.histograms import histograms_load, second_histograms
from runs.selectors.seconds import endpoint_second_values, run_second_values
from runs.services import audit
from runs.services.analysis import run_analyses_ensure
from runs.services.packing import run_unpack

log = logging.getLogger(__name__)


class PinError(Exception):
    """The run cannot be pinned or unpinned; the message is meant for the user."""


ENDED = (Run.Status.FINISHED, Run.Status.FAILED, Run.Status.CANCELLED)
# Seconds of a run read, merged and rewritten at a time (a multiple of the resolution): an
# hour at twenty endpoints is 72,000 EndpointSecond rows, never all in memory at once.
CHUNK_SECONDS = 600
TABLES = ("seconds", "endpoint_seconds", "generator_seconds")


@dataclass
class RollupResult:
    """What rolling one run up did (or would do): rows per table before and after."""

    run_id: int
    label: str
    before: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)
    rolled: bool = False

    def describe(self) -> str:
        parts = ", ".join(f"{name} {self.before[name]} → {self.after[name]}" for name in TABLES)
        return f"Run #{self.run_id} ({self.label}): {parts}"


def retention_candidates(*, days: int, now: dt.datetime | None = None) -> QuerySet[Run]:
    """Ended runs finished more than ``days`` ago, not pinned, not a baseline, not yet rolled."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    baselines = TestPlan.objects.filter(baseline_run__isnull=False).values("baseline_run")
    return (
        Run.objects.filter(
            status__in=ENDED,
            finished_at__lt=cutoff,
            pinned=False,
            resolution_s__lt=rollup.ROLLUP_SECONDS,
        )
        .exclude(pk__in=baselines)
        .order_by("finished_at", "pk")
    )


def _counts(run: Run) -> dict[str, int]:
    """Rows per table (of a packed run, the rows its blocks hold: what the roll-up unpacks)."""
    if run.packed_at is not None:
        packed = dict(
            PackedSeconds.objects.filter(run=run)
            .values_list("endpoint")
            .annotate(n=Sum("rows"))
            .values_list("endpoint", "n")
        )
        seconds, endpoint_seconds = packed.get(False, 0), packed.get(True, 0)
    else:
        seconds = RunSecond.objects.filter(run=run).count()
        endpoint_seconds = EndpointSecond.objects.filter(run=run).count()
    return {
        "seconds": seconds,
        "endpoint_seconds": endpoint_seconds,
        "generator_seconds": GeneratorSecond.objects.filter(run=run).count(),
    }


def _counts_after(run: Run) -> dict[str, int]:
    """Rows each table would hold at 10 s: the distinct windows per key (no histogram read)."""
    span = rollup.ROLLUP_SECONDS
    ep: set[tuple[int, str, str]] = set()
    for t, method, name in endpoint_second_values(run=run, fields=("t", "method", "name")):
        ep.add((rollup.window_start(t, span), method, name))
    gen = {
        (g, rollup.window_start(t, span))
        for g, t in GeneratorSecond.objects.filter(run=run).values_list("generator", "t")
    }
    return {
        "seconds": rollup.rows_after(t for (t,) in run_second_values(run=run, fields=("t",))),
        "endpoint_seconds": len(ep),
        "generator_seconds": len(gen),
    }


def _roll_chunk(run_id: int, lo: int, hi: int, span: int) -> None:
    """Replace the rows of seconds ``lo..hi-1`` (window-aligned) by their 10 s roll-up."""
    ep_rows = list(
        EndpointSecond.objects.filter(run_id=run_id, t__gte=lo, t__lt=hi)
        .order_by()
        .values_list("t", "method", "name", "requests", "failures", "bytes", "histogram")
    )
    ep_hists = histograms_load([r[6] for r in ep_rows])
    endpoints = rollup.rollup_endpoints(
        (
            rollup.EndpointRow(t=t, method=m, name=n, requests=rq, failures=f, bytes=b, histogram=h)
            for (t, m, n, rq, f, b, _), h in zip(ep_rows, ep_hists, strict=True)
        ),
        resolution_s=span,
    )
    del ep_rows, ep_hists
    sec_rows = list(
        RunSecond.objects.filter(run_id=run_id, t__gte=lo, t__lt=hi)
        .order_by("t")
        .values_list(
            "t", "users", "requests", "failures", "bytes", "cpu_percent", "dropped_iterations", "histogram"
        )
    )
    # A second of one endpoint stores its histogram in that endpoint's row: filled in here.
    sec_hists = second_histograms(run_id=run_id, rows=[(r[0], r[2], r[7]) for r in sec_rows])
    seconds = rollup.rollup_seconds(
        (
            rollup.SecondRow(
                t=t,
                users=u,
                requests=rq,
                failures=f,
                bytes=b,
                cpu_percent=c,
                dropped_iterations=d,
                histogram=h,
            )
            for (t, u, rq, f, b, c, d, _), h in zip(sec_rows, sec_hists, strict=True)
        ),
        resolution_s=span,
    )
    del sec_rows, sec_hists
    generators = rollup.rollup_generators(
        (
            rollup.GeneratorRow(generator=g, t=t, requests=rq, failures=f, cpu_percent=c)
            for g, t, rq, f, c in GeneratorSecond.objects.filter(
                run_id=run_id, t__gte=lo, t__lt=hi
            ).values_list("generator", "t", "requests", "failures", "cpu_percent")
        ),
        resolution_s=span,
    )
    # A window of exactly one endpoint keeps its histogram once, in that endpoint's row (as
    # ingestion does for a second): readers fill it in (runs.selectors.histograms).
    endpoints_per_window: dict[int, int] = {}
    for e in endpoints:
        endpoints_per_window[e.t] = endpoints_per_window.get(e.t, 0) + 1

    RunSecond.objects.filter(run_id=run_id, t__gte=lo, t__lt=hi).delete()
    EndpointSecond.objects.filter(run_id=run_id, t__gte=lo, t__lt=hi).delete()
    GeneratorSecond.objects.filter(run_id=run_id, t__gte=lo, t__lt=hi).delete()
    RunSecond.objects.bulk_create(
        [
            RunSecond(
                run_id=run_id,
                t=s.t,
                users=s.users,
                requests=s.requests,
                failures=s.failures,
                bytes=s.bytes,
                cpu_percent=s.cpu_percent,
                dropped_iterations=s.dropped_iterations,
                histogram=b"" if endpoints_per_window.get(s.t) == 1 else s.histogram.to_bytes(),
                **rollup.figures(s.histogram),
            )
            for s in seconds
        ],
        batch_size=500,
    )
    EndpointSecond.objects.bulk_create(
        [
            EndpointSecond(
                run_id=run_id,
                t=e.t,
                method=e.method,
                name=e.name,
                requests=e.requests,
                failures=e.failures,
                bytes=e.bytes,
                histogram=e.histogram.to_bytes(),
                **{k: v for k, v in rollup.figures(e.histogram).items() if k != "mean_ms"},
            )
            for e in endpoints
        ],
        batch_size=500,
    )
    GeneratorSecond.objects.bulk_create(
        [
            GeneratorSecond(
                run_id=run_id,
                generator=g.generator,
                t=g.t,
                requests=g.requests,
                failures=g.failures,
                cpu_percent=g.cpu_percent,
            )
            for g in generators
        ],
        batch_size=500,
    )


def run_rollup(*, run: Run, span: int = rollup.ROLLUP_SECONDS) -> RollupResult:
    """Roll one ended run's per-second rows up to ``span`` seconds (see the module docstring).

    The stored analysis is brought up to date from the per-second rows first (it is kept from
    then on). Returns rows per table before and after; ``rolled`` is False when the run was
    rolled by someone else meanwhile, or is active.
    """
    result = RollupResult(run_id=run.pk, label=run.plan_name)
    if run.status not in ENDED:
        return result
    run_analyses_ensure(ids=[run.pk], runs={run.pk: run})
    with transaction.atomic():
        claimed = (
            Run.objects.select_for_update()
            .filter(pk=run.pk, resolution_s__lt=span, status__in=ENDED)
            .values_list("last_t", flat=True)
            .first()
        )
        if claimed is None:
            return result
        # A packed run's rows come back first (exactly), then roll up like any other.
        if run_unpack(run_id=run.pk):
            run.packed_at = None
        result.before = _counts(run)
        top = max(
            claimed,
            *(
                m.objects.filter(run=run).order_by("-t").values_list("t", flat=True).first() or 0
                for m in (RunSecond, EndpointSecond, GeneratorSecond)
            ),
        )
        step = max(span, CHUNK_SECONDS - CHUNK_SECONDS % span)
        for lo in range(0, top + 1, step):
            _roll_chunk(run.pk, lo, lo + step, span)
        now = timezone.now()
        Run.objects.filter(pk=run.pk).update(resolution_s=span, rolled_up_at=now)
        result.after = _counts(run)
        result.rolled = True
        run.resolution_s, run.rolled_up_at = span, now
        audit.audit_record(
            action=audit.Action.RUN_ROLLUP,
            obj=run,
            details={"resolution_s": span, "before": result.before, "after": result.after},
        )
    return result


def retention_apply(
    *, days: int | None = None, dry_run: bool = False, now: dt.datetime | None = None
) -> list[RollupResult]:
    """Roll up every candidate run (``retention_candidates``); with ``dry_run``, only count.

    ``days`` defaults to ``SCALETEST_RETENTION_DAYS``; 0 keeps everything (returns []). A run
    that fails is logged and skipped (its transaction rolled back); the others go on.
    """
    days = settings.SCALETEST_RETENTION_DAYS if days is None else days
    if days <= 0:
        return []
    results: list[RollupResult] = []
    for run in retention_candidates(days=days, now=now):
        if dry_run:
            results.append(
                RollupResult(
                    run_id=run.pk, label=run.plan_name, before=_counts(run), after=_counts_after(run)
                )
            )
            continue
        try:
            result = run_rollup(run=run)
        except Exception:
            log.exception("retention: rolling up run %s failed; left at full resolution", run.pk)
            continue
        if result.rolled:
            results.append(result)
    return results


def run_set_pinned(*, run: Run, pinned: bool) -> Run:
    """Pin an ended run (the retention policy never rolls it up) or unpin it; audited when it
    changes. A run already rolled up stays at its resolution: the seconds are gone."""
    if run.is_active:
        raise PinError(
            f"Run #{run.pk} is {run.get_status_display().lower()}; only an ended run can be pinned."
        )
    changed = Run.objects.filter(pk=run.pk).exclude(pinned=pinned).update(pinned=pinned)
    run.pinned = pinned
    if changed:
        audit.audit_record(
            action=audit.Action.RUN_PIN, obj=run, details={"pinned": pinned, "resolution_s": run.resolution_s}
        )
    return run
