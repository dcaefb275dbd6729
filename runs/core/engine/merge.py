"""The master's side of a distributed run: merge the generators' seconds into one stream.

Pure module: no Locust, no Django, no I/O; the child (master mode) feeds it what the Locust
workers attach to their ``report_to_master`` data and sends what it returns as ordinary
``second`` messages (``runs.core.engine.protocol``), so the parent stores a distributed run exactly
as a single-process one.

Each generator reports ``{"index": k, "through": E, "seconds": [<second dicts>]}``: its own
per-second measurements (the ``second`` message format, exact histograms included) and the
watermark ``E``: every second before ``E`` has been sent. A second is merged and released
once every generator still in the run has passed it (histograms merged exactly, counts
summed), or once it is ``lag`` seconds old whatever a slow generator says; a generator's
data for a second already released is released again on its own and the parent merges it
into the stored row (the protocol allows a second to arrive twice).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from runs.core.engine.protocol import EndpointPayload, GeneratorPayload, SecondPayload
from runs.core.histogram import Histogram

# Seconds a merged second waits for a silent generator before it is released without it.
DEFAULT_LAG = 5


def merge_seconds(epoch: int, parts: Iterable[tuple[int, Mapping[str, Any]]]) -> SecondPayload:
    """One ``second`` message for ``epoch`` from (generator index, its second message) pairs.

    Endpoints are merged by (method, name) with exact histogram merges, errors by their
    group key; ``users`` and ``dropped_iterations`` add up; ``cpu_percent`` is the busiest
    generator's (the figure that says whether a generator was the bottleneck);
    ``generators`` keeps each generator's own requests, failures and CPU.
    """
    endpoints: dict[tuple[str, str], dict[str, Any]] = {}
    errors: dict[tuple[str, str, str, str], int] = {}
    per_generator: dict[int, GeneratorPayload] = {}
    users = dropped = 0
    cpu: float | None = None
    for index, part in parts:
        users += int(part.get("users") or 0)
        dropped += int(part.get("dropped_iterations") or 0)
        part_cpu = part.get("cpu_percent")
        if part_cpu is not None:
            cpu = max(cpu or 0.0, float(part_cpu))
        gen = per_generator.setdefault(
            index, {"index": index, "requests": 0, "failures": 0, "cpu_percent": None}
        )
        if part_cpu is not None:
            gen["cpu_percent"] = max(gen["cpu_percent"] or 0.0, float(part_cpu))
        for ep in part.get("endpoints") or ():
            key = (ep["method"], ep["name"])
            merged = endpoints.get(key)
            if merged is None:
                merged = endpoints[key] = {
                    "method": ep["method"],
                    "name": ep["name"],
                    "requests": 0,
                    "failures": 0,
                    "bytes": 0,
                    "hist": Histogram(),
                }
            merged["requests"] += int(ep["requests"])
            merged["failures"] += int(ep["failures"])
            merged["bytes"] += int(ep.get("bytes") or 0)
            merged["hist"].merge(Histogram.from_dict(ep["histogram"]))
            gen["requests"] += int(ep["requests"])
            gen["failures"] += int(ep["failures"])
        for err in part.get("errors") or ():
            key4 = (err["method"], err["name"], err["error_class"], err["message"])
            errors[key4] = errors.get(key4, 0) + int(err["count"])
    return {
        "type": "second",
        "epoch": epoch,
        "users": users,
        "cpu_percent": cpu,
        "dropped_iterations": dropped,
        "endpoints": [
            EndpointPayload(
                method=m["method"],
                name=m["name"],
                requests=m["requests"],
                failures=m["failures"],
                bytes=m["bytes"],
                histogram=m["hist"].to_dict(),
            )
            for m in endpoints.values()
        ],
        "errors": [
            {"method": m, "name": n, "error_class": c, "message": msg, "count": count}
            for (m, n, c, msg), count in errors.items()
        ],
        "generators": [per_generator[i] for i in sorted(per_generator)],
    }


class SecondMerger:
    """Collects the generators' seconds and releases each second once, merged.

    ``start`` is the run's first second: nothing before it is released (a generator's clock
    may be a little off; its earlier seconds are folded into ``start``).
    """

    def __init__(self, generators: int, *, start: int, lag: int = DEFAULT_LAG) -> None:
        self.expected = set(range(generators))
        self.start = start
        self.lag = lag
        self.next_epoch = start  # every second before it has been released
        self.through: dict[int, int] = {}
        self.pending: dict[int, list[tuple[int, Mapping[str, Any]]]] = {}
        self.gone: set[int] = set()

    def add(self, index: int, seconds: Iterable[Mapping[str, Any]], *, through: int | None) -> None:
        for second in seconds:
            epoch = max(int(second["epoch"]), self.start)
            self.pending.setdefault(epoch, []).append((index, second))
        if through is not None:
            self.through[index] = max(self.through.get(index, through), int(through))

    def drop(self, index: int) -> None:
        """``index`` left the run: stop waiting for it."""
        self.gone.add(index)

    def watermark(self) -> int:
        live = self.expected - self.gone
        if not live:
            return max([self.next_epoch, *self.through.values()])
        return min(self.through.get(i, self.start) for i in live)

    def ready(self, *, now: int) -> list[SecondPayload]:
        """Merged seconds that can be released at wall-clock second ``now``."""
        return self._release(max(self.watermark(), now - self.lag))

    def flush(self, *, until: int) -> list[SecondPayload]:
        """Everything held, up to second ``until`` (excluded) at least: the end of the run."""
        last = max(self.pending, default=until - 1)
        return self._release(max(until, last + 1))

    def _release(self, limit: int) -> list[SecondPayload]:
        out: list[SecondPayload] = []
        # Late data for seconds already released goes out on its own; the parent merges it.
        for epoch in sorted(e for e in self.pending if e < self.next_epoch):
            out.append(merge_seconds(epoch, self.pending.pop(epoch)))
        while self.next_epoch < limit:
            out.append(merge_seconds(self.next_epoch, self.pending.pop(self.next_epoch, [])))
            self.next_epoch += 1
        return out
