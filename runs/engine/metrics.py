"""Server-side metrics read during a run, in the run's parent process (never the Locust child).

Why here: the parent already owns the run's clock (``start_epoch`` from the child's hello), its
database writes and its end; the child is busy generating load under gevent, and a slow metrics
source must never slow the load. Each source gets a daemon thread that only does network I/O
(one pinned GET per second for a scrape source, a range query every ``PROMETHEUS_LIVE_SECONDS``
for a Prometheus source) and hands values over through a lock; the runner's own loop stores them
with its flushes (Django connections stay on the runner's thread). At the end a Prometheus
source is asked once more for the whole window at the resolution it has.

A source that is refused, down, slow or answers nonsense leaves gaps and a warning on its
series; nothing here raises into the runner.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections

from runs.core.metrics import prometheus
from runs.core.metrics.fetch import Credentials, FetchError, fetch_text, path_of
from runs.core.metrics.scrape import Scrape, ScrapeError, evaluate_series, parse_page
from runs.core.metrics.series import KIND_PROMETHEUS, SeriesSpec, series_from_dicts
from runs.core.safety import Refused
from runs.services.metric_sources import (
    MetricSourceCheck,
    metric_source_check,
    run_metric_points_store,
    run_metric_series_ensure,
    run_metric_warnings_store,
)

log = logging.getLogger(__name__)

SCRAPE_SECONDS = 1.0
PROMETHEUS_LIVE_SECONDS = 5.0


def _timeout() -> float:
    return float(settings.SCALETEST_METRICS_TIMEOUT_SECONDS)


@dataclass
class _Source:
    """One source of the run and what reading it has given so far (shared with its thread)."""

    name: str
    kind: str
    url: str
    series: list[SeriesSpec]
    credentials: Credentials
    verify_tls: bool
    check: MetricSourceCheck | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    pending: list[tuple[str, int, float]] = field(default_factory=list)  # (series name, t, value)
    reads: int = 0
    failures: int = 0
    first_error: str = ""
    warning_stored: str = ""

    def failed(self, message: str) -> None:
        with self.lock:
            self.failures += 1
            if not self.first_error:
                self.first_error = message
                log.warning("metrics source %s: %s", self.name, message)

    def warning(self) -> str:
        with self.lock:
            if not self.failures:
                return ""
            return (
                f"{self.failures} of {self.reads} reads of “{self.name}” failed, so its series have gaps; "
                f"the first: {self.first_error}"
            )


def _sources(snapshot_sources: Sequence[Mapping[str, Any]]) -> list[_Source]:
    out = []
    for raw in snapshot_sources:
        kind = str(raw.get("kind") or "")
        try:
            series = series_from_dicts(raw.get("series") or [], kind=kind)
        except ValueError as exc:
            log.warning("metrics source %s: its series are invalid: %s", raw.get("name"), exc)
            continue
        out.append(
            _Source(
                name=str(raw.get("name") or "")[:100],
                kind=kind,
                url=str(raw.get("url") or ""),
                series=series,
                credentials=Credentials(
                    auth_type=str(raw.get("auth_type") or "none"),
                    username=str(raw.get("auth_username") or ""),
                    password=str(raw.get("auth_password") or ""),
                    token=str(raw.get("auth_token") or ""),
                ),
                verify_tls=bool(raw.get("verify_tls", True)),
            )
        )
    return out


class MetricCollector:
    """The run's metrics sources, read on their own threads from ``start`` to ``finish``."""

    def __init__(self, *, run_id: int, sources: Sequence[Mapping[str, Any]], start_epoch: float) -> None:
        self.run_id = run_id
        self.start_epoch = float(start_epoch)
        self.sources = _sources(sources)
        self.series_ids: dict[str, int] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- runner's thread ------------------------------------------------------------------------
    def start(self) -> None:
        self.series_ids = run_metric_series_ensure(
            run_id=self.run_id,
            sources=[
                {"name": s.name, "kind": s.kind, "series": [x.to_dict() for x in s.series]}
                for s in self.sources
            ],
        )
        for source in self.sources:
            try:
                source.check = metric_source_check(source={"url": source.url})
            except Refused as exc:
                source.reads, source.failures, source.first_error = 1, 1, f"not read: {exc}"
                continue
            loop = self._scrape_loop if source.kind != KIND_PROMETHEUS else self._prometheus_loop
            thread = threading.Thread(
                target=loop, args=(source,), name=f"run-metrics-{source.name}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def flush(self) -> None:
        """Store what the threads read since the last flush (a failure keeps it for the next)."""
        batch: list[tuple[int, int, float]] = []
        taken: list[tuple[_Source, list[tuple[str, int, float]]]] = []
        for source in self.sources:
            with source.lock:
                items, source.pending = source.pending, []
            taken.append((source, items))
            for name, t, value in items:
                series_id = self.series_ids.get(f"{source.name}.{name}")
                if series_id is not None:
                    batch.append((series_id, t, value))
        try:
            run_metric_points_store(points=batch)
            warnings: dict[int, str] = {}
            for source in self.sources:
                text = source.warning()
                if text != source.warning_stored:
                    for spec in source.series:
                        if (sid := self.series_ids.get(f"{source.name}.{spec.name}")) is not None:
                            warnings[sid] = text
                    source.warning_stored = text
            run_metric_warnings_store(warnings=warnings)
        except DatabaseError:
            log.warning("run %s: storing server metrics failed; retrying", self.run_id, exc_info=True)
            close_old_connections()
            for source, items in taken:
                with source.lock:
                    source.pending[:0] = items

    def finish(self, *, end_epoch: float | None = None) -> None:
        """Stop the threads, ask each Prometheus source once more for the whole run, store."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=_timeout() + 1.0)
        end = end_epoch if end_epoch is not None else time.time()
        for source in self.sources:
            if source.kind == KIND_PROMETHEUS and source.check is not None:
                self._query_range(source, end)
        self.flush()

    # -- the sources' threads -------------------------------------------------------------------
    def _read(self, source: _Source, path: str, accept: str) -> str:
        assert source.check is not None
        with source.lock:
            source.reads += 1
        return fetch_text(
            endpoint=source.check.endpoint,
            address=source.check.address,
            path=path,
            credentials=source.credentials,
            timeout=_timeout(),
            verify_tls=source.verify_tls,
            accept=accept,
        )

    def _scrape_loop(self, source: _Source) -> None:
        previous: Scrape | None = None
        k = max(0, math.floor(time.time() - self.start_epoch))
        while not self._stop.is_set():
            # Mid-second: one scrape per second t of the run.
            due = self.start_epoch + k + 0.5
            if self._stop.wait(max(0.0, due - time.time())):
                return
            k = max(k + 1, math.floor(time.time() - self.start_epoch) + 1)
            at = time.time()
            t = math.floor(at - self.start_epoch)
            try:
                text = self._read(source, path_of(source.url), "text/plain;version=0.0.4")
                now = parse_page(text, at=at)
            except (FetchError, ScrapeError) as exc:
                source.failed(str(exc))
                previous = None  # a rate across a gap would smear it
                continue
            except Exception as exc:  # noqa: BLE001 - a source must never end the run
                source.failed(f"{type(exc).__name__}: {exc}")
                continue
            values = evaluate_series(source.series, now, previous)
            previous = now
            with source.lock:
                source.pending.extend((name, t, v) for name, v in values.items() if v is not None)

    def _prometheus_loop(self, source: _Source) -> None:
        while not self._stop.wait(PROMETHEUS_LIVE_SECONDS):
            self._query_range(source, time.time())

    def _query_range(self, source: _Source, end: float) -> None:
        step = prometheus.range_step(self.start_epoch, end)
        for spec in source.series:
            path = prometheus.range_path(source.url, spec.expr, start=self.start_epoch, end=end, step=step)
            try:
                values = prometheus.parse_range(
                    self._read(source, path, "application/json"), start_epoch=self.start_epoch
                )
            except (FetchError, prometheus.PrometheusError) as exc:
                source.failed(f"{spec.name}: {exc}")
                continue
            except Exception as exc:  # noqa: BLE001 - a source must never end the run
                source.failed(f"{spec.name}: {type(exc).__name__}: {exc}")
                continue
            with source.lock:
                source.pending.extend((spec.name, t, v) for t, v in values.items() if t >= 0)


def collector_start(
    *, run_id: int, snapshot: Mapping[str, Any], start_epoch: float
) -> MetricCollector | None:
    """The run's collector, started; None when its target has no metrics sources or it failed."""
    sources = snapshot.get("metric_sources") or []
    if not sources:
        return None
    try:
        collector = MetricCollector(run_id=run_id, sources=sources, start_epoch=start_epoch)
        collector.start()
    except Exception:  # noqa: BLE001 - server metrics are extra: the run goes on without them
        log.exception("run %s: the server metrics could not start", run_id)
        close_old_connections()
        return None
    return collector


def collector_flush(collector: MetricCollector | None) -> None:
    if collector is None:
        return
    try:
        collector.flush()
    except Exception:  # noqa: BLE001
        log.exception("run %s: storing server metrics failed", collector.run_id)


def collector_finish(collector: MetricCollector | None) -> None:
    if collector is None:
        return
    try:
        collector.finish()
    except Exception:  # noqa: BLE001
        log.exception("run %s: finishing server metrics failed", collector.run_id)
