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
approximations.

Two serialised forms, both exact:

* ``to_dict``: a JSON-friendly dict ``{"k": [keys], "c": [counts], "min", "max", "sum"}`` with
  keys sorted ascending. The engine's messages and the JSON export use it; rows stored before
  the compact form are in it too.
* ``to_bytes``: what the database stores (``STORED_FORMAT``), unsigned LEB128 varints:
  ``1, n, min, max, sum``, then ``n`` keys, each ``(key - previous key) << 1 | (count > 1)``
  (the first key against 0), then, for each key whose flag is set, ``count - 2``. A count of 1,
  the usual case in a second of one endpoint, costs no byte. The empty histogram is ``b""``.
  ``decode_many`` reads thousands of them at once with numpy.

Pure module: no Django, no I/O. The Locust child imports it too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is imported where it is used: the Locust child never needs it
    import numpy as np

SUB_BUCKET_BITS = 11
SUB_BUCKETS = 1 << SUB_BUCKET_BITS  # 2048
HALF = SUB_BUCKETS >> 1
MAX_VALUE_US = (1 << 62) - 1
STORED_FORMAT = 1  # the first varint of ``to_bytes``


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

    def to_bytes(self) -> bytes:
        """The compact stored form (module docstring); ``b""`` when empty."""
        keys = sorted(k for k, c in self.counts.items() if c)
        if not keys:
            return b""
        out = bytearray()
        _put(out, STORED_FORMAT)
        _put(out, len(keys))
        _put(out, self.min_us)
        _put(out, self.max_us)
        _put(out, self.sum_us)
        counts = self.counts
        previous = 0
        for key in keys:
            _put(out, ((key - previous) << 1) | (counts[key] > 1))
            previous = key
        for key in keys:
            if counts[key] > 1:
                _put(out, counts[key] - 2)
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Histogram:
        """Decode ``to_bytes``; ``ValueError`` on anything it did not write."""
        h = cls()
        if not data:
            return h
        values = _varints(bytes(data))
        if len(values) < 6 or values[0] != STORED_FORMAT:
            raise ValueError("stored histogram: unknown format or truncated header")
        n = values[1]
        if n < 1 or len(values) < 5 + n:
            raise ValueError("stored histogram: fewer keys than its header says")
        encoded = values[5 : 5 + n]
        extra = values[5 + n :]
        flagged = sum(e & 1 for e in encoded)
        if len(extra) != flagged:
            raise ValueError("stored histogram: counts and keys differ in length")
        counts = h.counts
        key = 0
        more = iter(extra)
        for i, e in enumerate(encoded):
            step = e >> 1
            if i and step == 0:
                raise ValueError("stored histogram: keys are not strictly ascending")
            key += step
            counts[key] = next(more) + 2 if e & 1 else 1
        h.total = sum(counts.values())
        h.min_us, h.max_us, h.sum_us = values[2], values[3], values[4]
        return h

    @classmethod
    def load(cls, stored: Histogram | bytes | bytearray | memoryview | Mapping[str, Any] | None) -> Histogram:
        """A histogram from whatever a row holds: the compact bytes, or the older dict form."""
        if stored is None:
            return cls()
        if isinstance(stored, Histogram):
            return stored
        if isinstance(stored, bytes | bytearray | memoryview):
            return cls.from_bytes(stored)
        return cls.from_dict(stored)

    @classmethod
    def merged(
        cls, items: Iterable[Histogram | bytes | bytearray | memoryview | Mapping[str, Any] | None]
    ) -> Histogram:
        out = cls()
        for item in items:
            if item is None:
                continue
            out.merge(cls.load(item))
        return out

    def __len__(self) -> int:
        return self.total

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Histogram(total={self.total}, min_us={self.min_us}, max_us={self.max_us})"


# -- the compact stored form --------------------------------------------------------------------
def _put(out: bytearray, value: int) -> None:
    if value < 0:
        raise ValueError("stored histogram: negative values cannot be encoded")
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _varints(data: bytes) -> list[int]:
    values: list[int] = []
    value = shift = 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            values.append(value)
            value = shift = 0
        else:
            shift += 7
    if shift:
        raise ValueError("stored histogram: truncated")
    return values


@dataclass(frozen=True)
class Decoded:
    """Many stored histograms decoded at once (``decode_many``), as flat numpy arrays.

    ``keys``/``counts`` hold every bucket of every histogram in order; ``sizes[i]`` is how many
    belong to the i-th input (0 for an empty one); ``mins``/``maxs``/``sums`` are per input.
    """

    keys: np.ndarray
    counts: np.ndarray
    sizes: np.ndarray
    mins: np.ndarray
    maxs: np.ndarray
    sums: np.ndarray

    def histograms(self) -> list[Histogram]:
        """One Histogram per input, in order."""
        out: list[Histogram] = []
        keys, counts = self.keys.tolist(), self.counts.tolist()
        mins, maxs, sums = self.mins.tolist(), self.maxs.tolist(), self.sums.tolist()
        start = 0
        for i, size in enumerate(self.sizes.tolist()):
            h = Histogram()
            if size:
                h.counts = dict(zip(keys[start : start + size], counts[start : start + size], strict=True))
                h.total = sum(counts[start : start + size])
                h.min_us, h.max_us, h.sum_us = mins[i], maxs[i], sums[i]
                start += size
            out.append(h)
        return out

    def merged(self) -> Histogram:
        """Every input merged into one histogram."""
        import numpy as np

        h = Histogram()
        if not len(self.keys):
            return h
        # Keys are small integers (under 53,000 even for 2**62 µs): a dense bincount sums them
        # faster than sorting; float weights are exact below 2**53.
        summed = np.bincount(self.keys, weights=self.counts).astype(np.int64)
        present = np.flatnonzero(summed)
        h.counts = dict(zip(present.tolist(), summed[present].tolist(), strict=True))
        h.total = int(summed.sum())
        filled = self.sizes > 0
        h.min_us = int(self.mins[filled].min())
        h.max_us = int(self.maxs[filled].max())
        h.sum_us = int(self.sums[filled].sum())
        return h


def decode_many(blobs: Sequence[bytes | bytearray | memoryview | None]) -> Decoded:
    """Decode many ``to_bytes`` histograms in a few numpy passes (a one-hour run at twenty
    endpoints is 72,000 of them: a Python loop over their bytes would take seconds).

    ``ValueError`` when any of them is not what ``to_bytes`` writes.
    """
    import numpy as np

    parts = [bytes(b) if b else b"" for b in blobs]
    count = len(parts)
    lengths = np.fromiter((len(p) for p in parts), dtype=np.int64, count=count)
    empty = np.zeros(0, dtype=np.int64)
    zeros = np.zeros(count, dtype=np.int64)
    data = np.frombuffer(b"".join(parts), dtype=np.uint8)
    if not len(data):
        return Decoded(empty, empty, zeros, zeros, zeros, zeros)
    term = data < 0x80
    ends = np.flatnonzero(term)
    blob_ends = np.cumsum(lengths)
    filled = lengths > 0
    if not term[blob_ends[filled] - 1].all():
        raise ValueError("stored histogram: truncated")
    starts = np.concatenate(([0], ends[:-1] + 1))
    widths = ends - starts + 1
    if widths.max() > 9:  # a sum beyond 2**63 µs (never in practice): decoded in Python
        return _decode_slowly(parts)
    pos = np.arange(len(data), dtype=np.int64) - np.repeat(starts, widths)
    contrib = (data & 0x7F).astype(np.int64) << (7 * pos)
    values = np.add.reduceat(contrib, starts)
    # Values per input: the terminators inside its bytes.
    upto = np.concatenate(([0], np.cumsum(term)))[blob_ends]
    per_blob = np.diff(np.concatenate(([0], upto)))
    base = np.concatenate(([0], np.cumsum(per_blob)[:-1]))
    idx = np.flatnonzero(filled)
    b = base[idx]
    if (per_blob[idx] < 6).any() or (values[b] != STORED_FORMAT).any():
        raise ValueError("stored histogram: unknown format or truncated header")
    n = values[b + 1]
    if (n < 1).any() or (per_blob[idx] < 5 + n).any():
        raise ValueError("stored histogram: fewer keys than its header says")
    first = np.concatenate(([0], np.cumsum(n)[:-1]))
    within = np.arange(int(n.sum()), dtype=np.int64) - np.repeat(first, n)
    encoded = values[np.repeat(b + 5, n) + within]
    flags = encoded & 1
    steps = encoded >> 1
    if (steps[within > 0] == 0).any():
        raise ValueError("stored histogram: keys are not strictly ascending")
    running = np.cumsum(steps)
    keys = running - np.repeat(running[first] - steps[first], n)
    flagged = np.add.reduceat(flags, first)
    if (per_blob[idx] != 5 + n + flagged).any():
        raise ValueError("stored histogram: counts and keys differ in length")
    firstc = np.concatenate(([0], np.cumsum(flagged)[:-1]))
    withinc = np.arange(int(flagged.sum()), dtype=np.int64) - np.repeat(firstc, flagged)
    counts = np.ones(len(keys), dtype=np.int64)
    counts[flags == 1] = values[np.repeat(b + 5 + n, flagged) + withinc] + 2
    sizes = zeros.copy()
    sizes[idx] = n
    mins, maxs, sums = zeros.copy(), zeros.copy(), zeros.copy()
    mins[idx], maxs[idx], sums[idx] = values[b + 2], values[b + 3], values[b + 4]
    return Decoded(keys, counts, sizes, mins, maxs, sums)


def _decode_slowly(parts: Sequence[bytes]) -> Decoded:
    import numpy as np

    hists = [Histogram.from_bytes(p) for p in parts]
    keys = [k for h in hists for k in sorted(h.counts)]
    counts = [h.counts[k] for h in hists for k in sorted(h.counts)]
    return Decoded(
        keys=np.array(keys, dtype=np.int64),
        counts=np.array(counts, dtype=np.int64),
        sizes=np.array([len(h.counts) for h in hists], dtype=np.int64),
        mins=np.array([h.min_us for h in hists], dtype=object),
        maxs=np.array([h.max_us for h in hists], dtype=object),
        sums=np.array([h.sum_us for h in hists], dtype=object),
    )
