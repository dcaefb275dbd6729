"""Generator capacity: is there enough of it before a distributed run is queued, and where did
each generator of a run go.

A distributed run (``generators`` > 1) needs that many pool processes of Celery workers that
consume ``SCALETEST_GENERATOR_QUEUE`` free at once (docs/scaling.md). Without them the run waits
``SCALETEST_GENERATOR_JOIN_TIMEOUT_SECONDS`` and fails; ``run_create`` asks first
(``generators_require``) and refuses at once, naming what is missing.

How we ask: Celery's remote control, the same broadcast ``celery inspect`` uses. ``active_queues``
goes to every worker and names the ones consuming the generator queue; ``stats`` then goes only to
those and returns as soon as each has answered, giving each one's pool size. Both work on Redis
and on the embedded filesystem broker (kombu's filesystem transport does fanout; its polling
interval, ``settings.CELERY_BROKER_TRANSPORT_OPTIONS``, bounds how fast the answers come). A worker
answers from its main process while its pool runs tasks, so busy generators still count as
connected; how many are busy comes from the database (the generators of running distributed runs).

The answer is cached for ``CACHE_SECONDS`` per process: the broadcast waits ``TIMEOUT_SECONDS`` for
answers, since nobody knows how many workers there are. A worker on a loaded machine can answer
later than that, so an answer with fewer generators than the last one (or none, the first time)
is asked again, waiting ``PATIENT_TIMEOUT_SECONDS``, and so is any answer before a refusal: a
refusal is never the result of one late reply.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError
from django.db.models import Avg, Count, Max, Q, Sum

from runs.core.safety import Refused
from runs.models import GeneratorSecond, Run, RunGenerator

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 1.0
PATIENT_TIMEOUT_SECONDS = 4.0
CACHE_SECONDS = 5.0
SEEN_SECONDS = 3600.0  # how long the last answer's count is remembered


class GeneratorsUnavailable(Refused):
    """Not enough generator processes are connected for a distributed run; the message says what."""


@dataclass(frozen=True)
class GeneratorWorker:
    node: str  # the Celery node name, e.g. generators@host
    slots: int  # pool processes: each runs one generator of one run at a time


@dataclass(frozen=True)
class GeneratorCapacity:
    queue: str
    workers: tuple[GeneratorWorker, ...] = ()
    in_use: int = 0  # generators of running distributed runs
    error: str = ""  # the broker could not be asked
    checked_at: float = field(default_factory=time.time)

    @property
    def connected(self) -> int:
        return sum(w.slots for w in self.workers)

    @property
    def available(self) -> int:
        return max(0, self.connected - self.in_use)

    def describe(self) -> str:
        """One sentence for the plan pages."""
        if self.error:
            return f"Generators available now: unknown; the broker could not be asked ({self.error})."
        if not self.workers:
            return f"No generator process is connected (no Celery worker consumes the queue “{self.queue}”)."
        nodes = ", ".join(f"{w.node}: {w.slots}" for w in self.workers)
        return (
            f"{self.connected} generator process{'es' if self.connected != 1 else ''} connected ({nodes}); "
            f"{self.in_use} in use by running runs, {self.available} free now."
        )


def generators_capacity(*, refresh: bool = False, patient: bool = False) -> GeneratorCapacity:
    """The generator processes connected now (cached ``CACHE_SECONDS``) and how many are busy.

    ``refresh`` skips the cache; ``patient`` waits ``PATIENT_TIMEOUT_SECONDS`` for answers."""
    queue = settings.SCALETEST_GENERATOR_QUEUE
    key, seen_key = f"scaletest:generators:{queue}", f"scaletest:generators-seen:{queue}"
    found: GeneratorCapacity | None = None if refresh else cache.get(key)
    if found is None:
        found = _ask_workers(queue, timeout=PATIENT_TIMEOUT_SECONDS if patient else TIMEOUT_SECONDS)
        seen = cache.get(seen_key)
        if not patient and not found.error and found.connected < (1 if seen is None else seen):
            found = _ask_workers(queue, timeout=PATIENT_TIMEOUT_SECONDS)  # late answers, or really fewer
        # A failure is cached too: with the broker down, asking takes seconds (kombu's retries),
        # and a page should not pay that on every load. generators_require asks again anyway.
        cache.set(key, found, CACHE_SECONDS)
        if not found.error:
            cache.set(seen_key, found.connected, SEEN_SECONDS)
    return GeneratorCapacity(
        queue=found.queue,
        workers=found.workers,
        error=found.error,
        checked_at=found.checked_at,
        in_use=_in_use(),
    )


def _ask_workers(queue: str, *, timeout: float) -> GeneratorCapacity:
    from scaletest_site.celery import app

    try:
        queues = app.control.inspect(timeout=timeout).active_queues() or {}
        nodes = sorted(
            node
            for node, consumed in queues.items()
            if isinstance(consumed, list)
            and any(q.get("name") == queue for q in consumed if isinstance(q, dict))
        )
        stats: dict[str, Any] = {}
        if nodes:
            stats = app.control.inspect(destination=nodes, timeout=timeout, limit=len(nodes)).stats() or {}
    except Exception as exc:  # noqa: BLE001 - a broker that is down or refuses: say so, never crash a page
        log.warning("asking the workers for generator capacity failed: %s", exc)
        return GeneratorCapacity(queue=queue, error=f"{type(exc).__name__}: {exc}"[:300])
    workers = tuple(GeneratorWorker(node=node, slots=_slots(stats.get(node))) for node in nodes)
    return GeneratorCapacity(queue=queue, workers=workers)


def _slots(stats: Any) -> int:
    """A worker's pool size from its ``stats`` answer (1 when it did not answer in time)."""
    try:
        return max(1, int(stats["pool"]["max-concurrency"]))
    except (KeyError, TypeError, ValueError):
        return 1


def _in_use() -> int:
    try:
        used = Run.objects.filter(status=Run.Status.RUNNING, generators__gt=1).aggregate(n=Sum("generators"))
    except DatabaseError:
        return 0
    return int(used["n"] or 0)


def generators_require(*, generators: int) -> None:
    """Raise :class:`GeneratorsUnavailable` unless ``generators`` generator processes are connected.

    Busy ones count: a run queued now may start after they are free, and the join timeout stays
    as the last line of defence. One generator runs in the run's own process: nothing to check.
    """
    if generators <= 1:
        return
    capacity = generators_capacity()
    if capacity.connected >= generators:
        return
    # Before refusing: ask again without the cache, waiting longer (a late answer, a broker blip).
    capacity = generators_capacity(refresh=True, patient=True)
    if capacity.error:
        raise GeneratorsUnavailable(
            f"This plan needs {generators} load generators, but the broker could not be asked which "
            f"are connected ({capacity.error}). No load was sent."
        )
    if capacity.connected >= generators:
        return
    have = (
        f"only {capacity.connected} {'is' if capacity.connected == 1 else 'are'} connected "
        f"({', '.join(f'{w.node}: {w.slots}' for w in capacity.workers)})"
        if capacity.workers
        else "none is connected (no Celery worker consumes the generator queue)"
    )
    raise GeneratorsUnavailable(
        f"This plan needs {generators} load generators on the queue “{capacity.queue}”, but {have}. "
        f"Start more generator processes (`python3 manage.py up --generators {generators}` on one "
        "machine, or a generator worker on another host: docs/scaling.md), or lower the plan's load "
        "generators. No load was sent."
    )


# -- where each generator ran ---------------------------------------------------------------------
def generator_joined(*, run_id: int, index: int) -> None:
    """Record this process's host as generator ``index`` of ``run_id`` (on the generator host)."""
    try:
        RunGenerator.objects.update_or_create(
            run_id=run_id,
            generator=index,
            defaults={"host": socket.gethostname()[:255], "pid": os.getpid()},
        )
    except DatabaseError:
        log.exception("run %s: could not record generator %d's host", run_id, index)


@dataclass(frozen=True)
class GeneratorShare:
    generator: int
    host: str
    requests: int
    failures: int
    share_percent: float  # of the run's requests
    cpu_mean: float | None
    cpu_max: float | None
    seconds_over: int  # seconds with CPU above the limit

    @property
    def saturated(self) -> bool:
        return self.seconds_over > 0


def run_generator_shares(*, run: Run, cpu_limit: float) -> list[GeneratorShare]:
    """Each generator of a distributed run: its share of the requests, its CPU and its host."""
    if run.generators <= 1:
        return []
    per = {
        row["generator"]: row
        for row in GeneratorSecond.objects.filter(run=run)
        .values("generator")
        .annotate(
            requests_sum=Sum("requests"),
            failures_sum=Sum("failures"),
            cpu_mean=Avg("cpu_percent"),
            cpu_max=Max("cpu_percent"),
            over=Count("pk", filter=Q(cpu_percent__gt=cpu_limit)),
        )
        .order_by("generator")
    }
    hosts = dict(RunGenerator.objects.filter(run=run).values_list("generator", "host"))
    total = sum(int(row["requests_sum"] or 0) for row in per.values())
    out = []
    for index in range(max(run.generators, max(per, default=-1) + 1)):
        row: Mapping[str, Any] = per.get(index, {})
        requests = int(row.get("requests_sum") or 0)
        out.append(
            GeneratorShare(
                generator=index,
                host=hosts.get(index, ""),
                requests=requests,
                failures=int(row.get("failures_sum") or 0),
                share_percent=round(100.0 * requests / total, 1) if total else 0.0,
                cpu_mean=row.get("cpu_mean"),
                cpu_max=row.get("cpu_max"),
                seconds_over=int(row.get("over") or 0),
            )
        )
    return out
