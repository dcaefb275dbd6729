"""Run results: store the engine's per-second messages, and summarise a run when it ends.

Percentiles everywhere come from exact merges of ``runs.core.histogram`` histograms: a RunSecond
is the merge of that second's endpoints, an EndpointSummary the merge of that endpoint's
seconds, and the run's own figures the merge of its endpoints.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest

from runs.core.engine import protocol
from runs.core.histogram import Histogram
from runs.models import EndpointSecond, EndpointSummary, ErrorGroup, GeneratorSecond, Run, RunSecond
from runs.selectors.histograms import second_histograms_fill
from runs.services.analysis import run_analyse_safely, step_histograms
from runs.services.thresholds import run_thresholds_evaluate_safely

log = logging.getLogger(__name__)

SUMMARY_PERCENTILES = (50, 90, 95, 99)
SECOND_PERCENTILES = (50, 95, 99)


# -- pure aggregation of one batch ------------------------------------------------------------
@dataclass
class Counts:
    requests: int = 0
    failures: int = 0
    bytes: int = 0
    hist: Histogram = field(default_factory=Histogram)
    # ``hist`` is a message's own histogram, adopted without a copy by the first ``add``:
    # it is copied before anything is merged into it (a message must never change, since a
    # batch that failed to store is ingested again).
    shared: bool = field(default=False, repr=False, compare=False)
    _fresh: bool = field(default=True, repr=False, compare=False)

    def add(self, requests: int, failures: int, nbytes: int, hist: Histogram) -> None:
        self.requests += requests
        self.failures += failures
        self.bytes += nbytes
        if self._fresh:
            self._fresh = False
            self.hist, self.shared = hist, True
            return
        if self.shared:
            self.hist, self.shared = Histogram().merge(self.hist), False
        self.hist.merge(hist)


@dataclass
class SecondAgg(Counts):
    users: int = 0
    cpu_percent: float | None = None
    dropped_iterations: int = 0


@dataclass
class ErrorAgg:
    count: int
    first_epoch: int
    last_epoch: int


@dataclass
class GeneratorAgg:
    requests: int = 0
    failures: int = 0
    cpu_percent: float | None = None

    def add(self, requests: int, failures: int, cpu_percent: float | None) -> None:
        self.requests += requests
        self.failures += failures
        if cpu_percent is not None:
            self.cpu_percent = max(self.cpu_percent or 0.0, cpu_percent)


@dataclass
class Batch:
    seconds: dict[int, SecondAgg]
    endpoints: dict[tuple[int, str, str], Counts]
    errors: dict[tuple[str, str, str, str], ErrorAgg]
    latest_users: int
    # This batch's own totals, taken before any merge with stored rows.
    requests: int
    failures: int
    bytes: int
    # (t, generator index) -> that generator's share (distributed runs only).
    generators: dict[tuple[int, int], GeneratorAgg] = field(default_factory=dict)


def batch_aggregate(seconds: Iterable[protocol.SecondMessage], *, start_epoch: int) -> Batch:
    """Group messages by ``t`` (a second may come twice: its halves are merged)."""
    per_t: dict[int, SecondAgg] = {}
    per_ep: dict[tuple[int, str, str], Counts] = {}
    errors: dict[tuple[str, str, str, str], ErrorAgg] = {}
    generators: dict[tuple[int, int], GeneratorAgg] = {}
    latest = (-1, 0)
    for msg in seconds:
        t = max(0, msg.epoch - start_epoch)
        agg = per_t.get(t)
        if agg is None:
            agg = per_t[t] = SecondAgg()
        agg.users = max(agg.users, msg.users)
        agg.dropped_iterations += msg.dropped_iterations
        if msg.cpu_percent is not None:
            agg.cpu_percent = max(agg.cpu_percent or 0.0, msg.cpu_percent)
        if t >= latest[0]:
            latest = (t, msg.users)
        for ep in msg.endpoints:
            hist = ep.decoded()  # decoded once, by the parser
            agg.add(ep.requests, ep.failures, ep.bytes, hist)
            per_ep.setdefault((t, ep.method, ep.name), Counts()).add(ep.requests, ep.failures, ep.bytes, hist)
        for gen in msg.generators:
            generators.setdefault((t, gen.index), GeneratorAgg()).add(
                gen.requests, gen.failures, gen.cpu_percent
            )
        for err in msg.errors:
            key = (err.method, err.name, err.error_class, err.message)
            seen = errors.get(key)
            if seen is None:
                errors[key] = ErrorAgg(err.count, msg.epoch, msg.epoch)
            else:
                seen.count += err.count
                seen.first_epoch = min(seen.first_epoch, msg.epoch)
                seen.last_epoch = max(seen.last_epoch, msg.epoch)
    return Batch(
        seconds=per_t,
        endpoints=per_ep,
        errors=errors,
        latest_users=latest[1],
        requests=sum(c.requests for c in per_t.values()),
        failures=sum(c.failures for c in per_t.values()),
        bytes=sum(c.bytes for c in per_t.values()),
        generators=generators,
    )


def _figures(hist: Histogram, qs: Sequence[float]) -> Mapping[str, float | None]:
    if not hist.total:
        return {f"p{q:g}_ms": None for q in qs} | {"max_ms": None, "mean_ms": None}
    ps = hist.percentiles_ms(qs)
    return {f"p{q:g}_ms": ps[q] for q in qs} | {"max_ms": hist.max_ms, "mean_ms": hist.mean_ms}


def _epoch_dt(epoch: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC)


# -- ingestion ---------------------------------------------------------------------------------
def results_ingest(
    *,
    run_id: int,
    seconds: Sequence[protocol.SecondMessage],
    start_epoch: int | None = None,
    last_t: int | None = None,
    seq: int | None = None,
) -> int:
    """Store a batch of per-second messages in one transaction, exactly once.

    Returns the highest ``t`` now known to be stored: the batch's, or ``last_t`` if higher.

    ``t`` is ``epoch - start_epoch``; without ``start_epoch`` the run's ``started_at`` (the
    whole second the load started, set by the runner) is the origin. A second that is
    already stored is merged with the new one, so a straggler never overwrites data.

    ``last_t`` is the highest ``t`` already stored for the run, from a caller that is its
    only writer (the runner: it returns the value to pass next time). When every second of
    the batch is above it, which is the rule, the rows are inserted without looking for
    stored ones. Without it (or when a second is not above it: a clock step replayed one),
    the stored rows of the batch's seconds are locked and merged.

    ``seq`` makes a retry safe: it is the number of the batch's first message in the order its
    single writer (the runner) received them, counting from 0. The run's ``ingested_messages``
    (updated in the same transaction) says how many are stored, so messages below it are
    skipped. When a connection is lost while the commit is in flight, the runner cannot know
    whether the batch was stored; it sends it again (perhaps with newer messages after it) and
    nothing is counted twice. Without ``seq`` (tests, tools) every message is stored.
    """
    if not seconds:
        return -1 if last_t is None else last_t
    if start_epoch is None:
        started_at = Run.objects.values_list("started_at", flat=True).get(pk=run_id)
        if started_at is None:
            raise ValueError(f"run {run_id} has not started")
        start_epoch = int(started_at.timestamp())
    with transaction.atomic():
        if seq is not None:
            stored, stored_t = (
                Run.objects.select_for_update().values_list("ingested_messages", "last_t").get(pk=run_id)
            )
            skip = max(0, stored - seq)
            if skip:
                log.warning(
                    "run %s: %d of %d messages were already stored (a retried batch); skipped",
                    run_id,
                    min(skip, len(seconds)),
                    len(seconds),
                )
            seconds = seconds[skip:]
            if not seconds:
                return max(-1 if last_t is None else last_t, stored_t)
            Run.objects.filter(pk=run_id).update(ingested_messages=seq + skip + len(seconds))
        batch = batch_aggregate(seconds, start_epoch=start_epoch)
        all_new = last_t is not None and min(batch.seconds) > last_t
        _store_seconds(run_id, batch, all_new=all_new)
        _store_endpoints(run_id, batch, all_new=all_new)
        _store_errors(run_id, batch)
        _store_generators(run_id, batch, all_new=all_new)
        _update_totals(run_id, batch)
    return max(-1 if last_t is None else last_t, max(batch.seconds))


def _store_seconds(run_id: int, batch: Batch, *, all_new: bool = False) -> None:
    existing = (
        {}
        if all_new
        else {
            row.t: row
            for row in RunSecond.objects.select_for_update().filter(run_id=run_id, t__in=list(batch.seconds))
        }
    )
    # A stored second with one endpoint has no histogram of its own: its endpoint's row has it.
    elided = {t for t, row in existing.items() if not row.histogram and row.requests}
    filled = second_histograms_fill(run_id=run_id, ts=elided) if elided else {}
    # A second of exactly one endpoint stores its histogram once, in that endpoint's row.
    endpoints_per_t = Counter(t for t, _, _ in batch.endpoints)
    new_rows: list[RunSecond] = []
    changed: list[RunSecond] = []
    for t, agg in batch.seconds.items():
        row = existing.get(t)
        if row is not None:
            stored = filled[t] if t in elided else Histogram.load(row.histogram)
            agg.add(row.requests, row.failures, row.bytes, stored)
            agg.users = max(agg.users, row.users)
            agg.dropped_iterations += row.dropped_iterations
            if row.cpu_percent is not None:
                agg.cpu_percent = max(agg.cpu_percent or 0.0, row.cpu_percent)
        else:
            row = RunSecond(run_id=run_id, t=t)
        row.users, row.cpu_percent = agg.users, agg.cpu_percent
        row.dropped_iterations = agg.dropped_iterations
        row.requests, row.failures, row.bytes = agg.requests, agg.failures, agg.bytes
        # Merged into a stored second, it may have gained an endpoint: kept whole then.
        alone = row.pk is None and endpoints_per_t[t] == 1
        row.histogram = b"" if alone else agg.hist.to_bytes()
        for name, value in _figures(agg.hist, SECOND_PERCENTILES).items():
            setattr(row, name, value)
        (changed if row.pk else new_rows).append(row)
    RunSecond.objects.bulk_create(new_rows)
    if changed:
        RunSecond.objects.bulk_update(
            changed,
            [
                "users",
                "cpu_percent",
                "dropped_iterations",
                "requests",
                "failures",
                "bytes",
                "histogram",
                "p50_ms",
                "p95_ms",
                "p99_ms",
                "max_ms",
                "mean_ms",
            ],
        )


def _store_endpoints(run_id: int, batch: Batch, *, all_new: bool = False) -> None:
    if not batch.endpoints:
        return
    ts = sorted({t for t, _, _ in batch.endpoints})
    existing = (
        {}
        if all_new
        else {
            (row.t, row.method, row.name): row
            for row in EndpointSecond.objects.select_for_update().filter(run_id=run_id, t__in=ts)
        }
    )
    new_rows: list[EndpointSecond] = []
    changed: list[EndpointSecond] = []
    for (t, method, name), agg in batch.endpoints.items():
        row = existing.get((t, method, name))
        if row is not None:
            agg.add(row.requests, row.failures, row.bytes, Histogram.load(row.histogram))
        else:
            row = EndpointSecond(run_id=run_id, t=t, method=method, name=name)
        row.requests, row.failures, row.bytes = agg.requests, agg.failures, agg.bytes
        row.histogram = agg.hist.to_bytes()
        figures = _figures(agg.hist, SECOND_PERCENTILES)
        row.p50_ms, row.p95_ms, row.p99_ms, row.max_ms = (
            figures["p50_ms"],
            figures["p95_ms"],
            figures["p99_ms"],
            figures["max_ms"],
        )
        (changed if row.pk else new_rows).append(row)
    EndpointSecond.objects.bulk_create(new_rows)
    if changed:
        EndpointSecond.objects.bulk_update(
            changed, ["requests", "failures", "bytes", "histogram", "p50_ms", "p95_ms", "p99_ms", "max_ms"]
        )


def _store_errors(run_id: int, batch: Batch) -> None:
    if not batch.errors:
        return
    existing = {
        (g.method, g.name, g.error_class, g.message): g
        for g in ErrorGroup.objects.select_for_update().filter(
            run_id=run_id, error_class__in={k[2] for k in batch.errors}, name__in={k[1] for k in batch.errors}
        )
    }
    new_groups = []
    for key, agg in batch.errors.items():
        group = existing.get(key)
        if group is None:
            method, name, error_class, message = key
            new_groups.append(
                ErrorGroup(
                    run_id=run_id,
                    method=method,
                    name=name,
                    error_class=error_class,
                    message=message,
                    count=agg.count,
                    first_seen=_epoch_dt(agg.first_epoch),
                    last_seen=_epoch_dt(agg.last_epoch),
                )
            )
        else:
            ErrorGroup.objects.filter(pk=group.pk).update(
                count=F("count") + agg.count,
                first_seen=min(group.first_seen, _epoch_dt(agg.first_epoch)),
                last_seen=max(group.last_seen, _epoch_dt(agg.last_epoch)),
            )
    ErrorGroup.objects.bulk_create(new_groups)


def _store_generators(run_id: int, batch: Batch, *, all_new: bool = False) -> None:
    if not batch.generators:
        return
    existing = (
        {}
        if all_new
        else {
            (row.t, row.generator): row
            for row in GeneratorSecond.objects.select_for_update().filter(
                run_id=run_id, t__in={t for t, _ in batch.generators}
            )
        }
    )
    new_rows: list[GeneratorSecond] = []
    changed: list[GeneratorSecond] = []
    for (t, index), agg in batch.generators.items():
        row = existing.get((t, index))
        if row is None:
            row = GeneratorSecond(run_id=run_id, t=t, generator=index)
        else:
            agg.add(row.requests, row.failures, row.cpu_percent)
        row.requests, row.failures, row.cpu_percent = agg.requests, agg.failures, agg.cpu_percent
        (changed if row.pk else new_rows).append(row)
    GeneratorSecond.objects.bulk_create(new_rows)
    if changed:
        GeneratorSecond.objects.bulk_update(changed, ["requests", "failures", "cpu_percent"])


def _update_totals(run_id: int, batch: Batch) -> None:
    Run.objects.filter(pk=run_id).update(
        total_requests=F("total_requests") + batch.requests,
        total_failures=F("total_failures") + batch.failures,
        total_bytes=F("total_bytes") + batch.bytes,
        last_t=Greatest(F("last_t"), Value(max(batch.seconds))),
        current_users=batch.latest_users,
    )


# -- summary -----------------------------------------------------------------------------------
def run_summarise(*, run_id: int) -> None:
    """(Re)build the run's EndpointSummary rows and whole-run percentiles, then its analysis.

    Merges each endpoint's per-second histograms (a 1-hour run at 20 endpoints is 72k of
    them) from the query's JSON text with numpy (``step_histograms`` with one window over the
    whole run). The run's figures merge the endpoint totals: the same samples as merging every
    RunSecond, with far fewer histograms to decode. The capacity analysis
    (``run_analyse``) and the threshold verdicts (``run_thresholds_evaluate``) follow; their
    failure is logged and never stops a run from ending.
    """
    merged = step_histograms(model=EndpointSecond, windows={run_id: [(0, 0, 2**31 - 1)]})
    last_t = Run.objects.values_list("last_t", flat=True).get(pk=run_id)
    seconds = max(last_t + 1, 1)
    summaries = []
    overall = Histogram()
    for (_, _, method, name), totals in merged.items():
        overall.merge(totals.histogram)
        summaries.append(
            EndpointSummary(
                run_id=run_id,
                method=method,
                name=name,
                requests=totals.requests,
                failures=totals.failures,
                bytes=totals.bytes,
                rps=totals.requests / seconds,
                histogram=totals.histogram.to_bytes(),
                **_figures(totals.histogram, SUMMARY_PERCENTILES),
            )
        )
    run_figures = _figures(overall, SECOND_PERCENTILES)
    with transaction.atomic():
        EndpointSummary.objects.filter(run_id=run_id).delete()
        EndpointSummary.objects.bulk_create(summaries)
        Run.objects.filter(pk=run_id).update(
            p50_ms=run_figures["p50_ms"],
            p95_ms=run_figures["p95_ms"],
            p99_ms=run_figures["p99_ms"],
            max_ms=run_figures["max_ms"],
        )
    # Verdicts first: cheap, and what a CI job waits for; neither step can stop a run ending.
    run_thresholds_evaluate_safely(run_id=run_id)
    run_analyse_safely(run_id=run_id)
    # For the plan's trend: the run against the plan's baseline, stored as a comparison would.
    from runs.services.analysis import run_baseline_verdicts_store_safely

    run_baseline_verdicts_store_safely(run_id=run_id)
