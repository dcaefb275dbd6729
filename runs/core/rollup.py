"""Rolling per-second rows up into coarser windows, exactly (the retention policy's merge).

A rolled row stands for the window ``[t, t + span)`` where ``t`` is the window's first second
(a multiple of the resolution): counts are summed, histograms merged (so every percentile of
any union of windows is exactly what the per-second rows gave), the stored percentiles are
recomputed from the merged histogram, ``users`` is the window's **maximum** (a peak is never
hidden; a step up inside a window shows at the window's start), CPU is the mean of the seconds
that reported it. The last window of a run may be shorter: ``row_span`` says how long.

Readers turn counts into rates by dividing by ``row_span`` (a per-second row's span is 1).

Pure module: no Django, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from runs.core.histogram import Histogram

ROLLUP_SECONDS = 10  # the resolution old runs are rolled up to
ROW_PERCENTILES = (50, 95, 99)


def window_start(t: int, resolution_s: int) -> int:
    """The first second of the window that second ``t`` falls in."""
    return (t // resolution_s) * resolution_s if resolution_s > 1 else t


def row_span(t: int, *, resolution_s: int, last_t: int) -> int:
    """Seconds the row at ``t`` stands for: the resolution, or less for a run's last window
    (which ends at ``last_t``); never below 1."""
    if resolution_s <= 1:
        return 1
    return max(1, min(resolution_s, last_t + 1 - t))


def rate(count: float, t: int, *, resolution_s: int, last_t: int) -> float:
    """``count`` of the row at ``t`` per second of its span."""
    return count / row_span(t, resolution_s=resolution_s, last_t=last_t)


def figures(hist: Histogram) -> dict[str, float | None]:
    """``p50_ms``, ``p95_ms``, ``p99_ms``, ``max_ms``, ``mean_ms`` of a merged histogram."""
    out: dict[str, float | None] = dict.fromkeys(
        (*(f"p{q}_ms" for q in ROW_PERCENTILES), "max_ms", "mean_ms")
    )
    if hist.total:
        ps = hist.percentiles_ms(ROW_PERCENTILES)
        out.update({f"p{q}_ms": ps[q] for q in ROW_PERCENTILES})
        out.update(max_ms=hist.max_ms, mean_ms=hist.mean_ms)
    return out


@dataclass
class SecondRow:
    """A RunSecond's stored values; ``histogram`` is the second's full histogram (filled in
    from its endpoint where the row elides it)."""

    t: int
    users: int = 0
    requests: int = 0
    failures: int = 0
    bytes: int = 0
    cpu_percent: float | None = None
    dropped_iterations: int = 0
    histogram: Histogram = field(default_factory=Histogram)


@dataclass
class EndpointRow:
    t: int
    method: str
    name: str
    requests: int = 0
    failures: int = 0
    bytes: int = 0
    histogram: Histogram = field(default_factory=Histogram)


@dataclass
class GeneratorRow:
    generator: int
    t: int
    requests: int = 0
    failures: int = 0
    cpu_percent: float | None = None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def rollup_seconds(rows: Iterable[SecondRow], *, resolution_s: int = ROLLUP_SECONDS) -> list[SecondRow]:
    """RunSecond rows merged per window, ordered by ``t``."""
    windows: dict[int, list[SecondRow]] = {}
    for row in rows:
        windows.setdefault(window_start(row.t, resolution_s), []).append(row)
    out = []
    for start in sorted(windows):
        group = windows[start]
        hist = Histogram()
        for row in group:
            hist.merge(row.histogram)
        out.append(
            SecondRow(
                t=start,
                users=max(r.users for r in group),
                requests=sum(r.requests for r in group),
                failures=sum(r.failures for r in group),
                bytes=sum(r.bytes for r in group),
                cpu_percent=_mean([r.cpu_percent for r in group if r.cpu_percent is not None]),
                dropped_iterations=sum(r.dropped_iterations for r in group),
                histogram=hist,
            )
        )
    return out


def rollup_endpoints(rows: Iterable[EndpointRow], *, resolution_s: int = ROLLUP_SECONDS) -> list[EndpointRow]:
    """EndpointSecond rows merged per (window, method, name), ordered by ``(t, method, name)``."""
    merged: dict[tuple[int, str, str], EndpointRow] = {}
    for row in rows:
        key = (window_start(row.t, resolution_s), row.method, row.name)
        into = merged.get(key)
        if into is None:
            into = merged[key] = EndpointRow(t=key[0], method=row.method, name=row.name)
        into.requests += row.requests
        into.failures += row.failures
        into.bytes += row.bytes
        into.histogram.merge(row.histogram)
    return [merged[k] for k in sorted(merged)]


def rollup_generators(
    rows: Iterable[GeneratorRow], *, resolution_s: int = ROLLUP_SECONDS
) -> list[GeneratorRow]:
    """GeneratorSecond rows merged per (generator, window): counts summed, CPU the mean."""
    groups: dict[tuple[int, int], list[GeneratorRow]] = {}
    for row in rows:
        groups.setdefault((row.generator, window_start(row.t, resolution_s)), []).append(row)
    return [
        GeneratorRow(
            generator=generator,
            t=start,
            requests=sum(r.requests for r in group),
            failures=sum(r.failures for r in group),
            cpu_percent=_mean([r.cpu_percent for r in group if r.cpu_percent is not None]),
        )
        for (generator, start), group in sorted(groups.items())
    ]


def rows_after(ts: Iterable[int], *, resolution_s: int = ROLLUP_SECONDS) -> int:
    """How many rows the seconds ``ts`` (one key's rows) become: their distinct windows."""
    return len({window_start(t, resolution_s) for t in ts})
