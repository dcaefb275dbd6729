"""Exact, mergeable latency histograms (HDR-style log-linear buckets).

Latencies are recorded in integer microseconds. Values below ``SUB_BUCKETS`` (2048 µs) get a
bucket each; above that, every power of two is split into 1024 linear sub-buckets
(the upper half of a 2048-wide mantissa), so a bucket's width is at most 1/1024 of its lower
bound. Reporting the bucket midpoint bounds the relative error by 1/2048 (≈0.05%) at every
magnitude: three significant digits and better, as HdrHistogram with
``significant_figures=3`` does. Locust's own statistics round to two significant digits
(1049 ms is reported as 1100 ms); this module reports 1049.x ms.

Histograms merge by adding counts, so percentiles over any window, any set of endpoints and
any set of generator processes are exact to the bucket resolution, not approximations of
approximations. The serialised form is a JSON-friendly dict ``{"k": [keys], "c": [counts]}``
with keys sorted ascending (delta-encoded keys would be smaller; plain keys keep it readable
in the database).

Pure module: no Django, no I/O. The Locust child imports it too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

SUB_BUCKET_BITS = 11
SUB_BUCKETS = 1 << SUB_BUCKET_BITS  # 2048
HALF = SUB_BUCKETS >> 1
MAX_VALUE_US = (1 << 62) - 1


def bucket_key(value_us: int) -> int:
    """Bucket index of an integer microsecond value (monotonic in the value)."""
    if value_us < SUB_BUCKETS:
        return max(value_us, 0)
    shift = value_us.bit_length() - SUB_BUCKET_BITS
    # (shift, mantissa) with mantissa in [HALF*2/2 .. SUB_BUCKETS) flattened into one integer.
    return (shift << (SUB_BUCKET_BITS - 1)) + (value_us >> shift)


def bucket_bounds(key: int) -> tuple[int, int]:
    """Inclusive lower and upper microsecond values that land in ``key``."""
    if key < SUB_BUCKETS:
        return key, key
    shift = (key - HALF) >> (SUB_BUCKET_BITS - 1)
    mantissa = key - (shift << (SUB_BUCKET_BITS - 1))
    low = mantissa << shift
    return low, low + (1 << shift) - 1


def bucket_value_us(key: int) -> float:
    """The value reported for a bucket: its midpoint."""
    low, high = bucket_bounds(key)
    return (low + high) / 2.0


class Histogram:
    """A sparse histogram of microsecond latencies. Mutable; cheap to record into."""

    __slots__ = ("counts", "total", "min_us", "max_us", "sum_us")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.total = 0
        self.min_us = 0
        self.max_us = 0
        self.sum_us = 0

    # -- recording ---------------------------------------------------------------------------
    def record_ms(self, value_ms: float, count: int = 1) -> None:
        self.record_us(int(round(value_ms * 1000.0)), count)

    def record_us(self, value_us: int, count: int = 1) -> None:
        if value_us < 0:
            value_us = 0
        elif value_us > MAX_VALUE_US:
            value_us = MAX_VALUE_US
        if value_us < SUB_BUCKETS:
            key = value_us
        else:
            shift = value_us.bit_length() - SUB_BUCKET_BITS
            key = (shift << (SUB_BUCKET_BITS - 1)) + (value_us >> shift)
        counts = self.counts
        counts[key] = counts.get(key, 0) + count
        if self.total == 0 or value_us < self.min_us:
            self.min_us = value_us
        if value_us > self.max_us:
            self.max_us = value_us
        self.total += count
        self.sum_us += value_us * count

    def merge(self, other: Histogram) -> Histogram:
        """Add ``other`` into this histogram in place and return self."""
        if other.total == 0:
            return self
        counts = self.counts
        for key, c in other.counts.items():
            counts[key] = counts.get(key, 0) + c
        if self.total == 0 or other.min_us < self.min_us:
            self.min_us = other.min_us
        if other.max_us > self.max_us:
            self.max_us = other.max_us
        self.total += other.total
        self.sum_us += other.sum_us
        return self

    # -- reading -----------------------------------------------------------------------------
    def percentile_us(self, q: float) -> float:
        """The q-th percentile (0 < q <= 100) in microseconds; 0.0 for an empty histogram.

        Rank convention: the smallest recorded value v such that at least q% of the samples
        are <= v (nearest-rank), reported as its bucket's midpoint clamped to [min, max], so a
        percentile never exceeds the recorded maximum (Locust's p99 can: locust #255).
        """
        if self.total == 0:
            return 0.0
        if not 0 < q <= 100:
            raise ValueError(f"percentile must be in (0, 100], got {q}")
        rank = max(1, -(-int(q * self.total * 1_000_000) // 100_000_000))  # ceil(q/100*total)
        seen = 0
        for key in sorted(self.counts):
            seen += self.counts[key]
            if seen >= rank:
                value = bucket_value_us(key)
                return float(min(max(value, self.min_us), self.max_us))
        return float(self.max_us)

    def percentile_ms(self, q: float) -> float:
        return self.percentile_us(q) / 1000.0

    def percentiles_ms(self, qs: Iterable[float]) -> dict[float, float]:
        """Several percentiles in one pass over the sorted buckets."""
        wanted = sorted(set(qs))
        out: dict[float, float] = {}
        if self.total == 0:
            return {q: 0.0 for q in wanted}
        ranks = [(q, max(1, -(-int(q * self.total * 1_000_000) // 100_000_000))) for q in wanted]
        i = 0
        seen = 0
        for key in sorted(self.counts):
            seen += self.counts[key]
            while i < len(ranks) and seen >= ranks[i][1]:
                value = min(max(bucket_value_us(key), self.min_us), self.max_us)
                out[ranks[i][0]] = value / 1000.0
                i += 1
            if i == len(ranks):
                break
        for q, _ in ranks[i:]:
            out[q] = self.max_us / 1000.0
        return out

    @property
    def mean_ms(self) -> float:
        return (self.sum_us / self.total) / 1000.0 if self.total else 0.0

    @property
    def max_ms(self) -> float:
        return self.max_us / 1000.0

    @property
    def min_ms(self) -> float:
        return self.min_us / 1000.0

    # -- serialisation -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        keys = sorted(self.counts)
        return {
            "k": keys,
            "c": [self.counts[k] for k in keys],
            "min": self.min_us,
            "max": self.max_us,
            "sum": self.sum_us,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Histogram:
        h = cls()
        if not data:
            return h
        keys = data.get("k") or []
        counts = data.get("c") or []
        if len(keys) != len(counts):
            raise ValueError("histogram keys and counts differ in length")
        for key, c in zip(keys, counts, strict=True):
            key = int(key)
            c = int(c)
            if key < 0 or c < 0:
                raise ValueError("histogram keys and counts must be non-negative")
            if c:
                h.counts[key] = h.counts.get(key, 0) + c
        h.total = sum(h.counts.values())
        h.min_us = int(data.get("min", 0))
        h.max_us = int(data.get("max", 0))
        h.sum_us = int(data.get("sum", 0))
        return h

    @classmethod
    def merged(cls, items: Iterable[Histogram | Mapping[str, Any] | None]) -> Histogram:
        out = cls()
        for item in items:
            if item is None:
                continue
            out.merge(item if isinstance(item, Histogram) else cls.from_dict(item))
        return out

    def __len__(self) -> int:
        return self.total

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Histogram(total={self.total}, min_us={self.min_us}, max_us={self.max_us})"
