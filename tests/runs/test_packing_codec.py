"""runs.core.packing: per-second rows packed into blocks and unpacked to exactly the same values.

Pure module, no database. "Exactly" means: the same ints, floats with the same bits (a float
stored as whole half microseconds must rebuild the identical double), the same histogram bytes,
the same None, and Python types (not numpy scalars).
"""

from __future__ import annotations

import math
import struct
import zlib
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runs.core.histogram import Histogram
from runs.core.packing import BLOCK_SECONDS, ENDPOINT_KINDS, Kind, pack, unpack, unpack_columns

INT64 = (-(2**63), 2**63 - 1)


def bits(value: Any) -> Any:
    """A value as something whose equality is exact: floats by their bits, with their type."""
    if isinstance(value, float):
        return ("float", struct.pack("<d", value))
    return (type(value).__name__, value)


def assert_identical(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]]) -> None:
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert isinstance(g, tuple), f"row {i} is a {type(g).__name__}"
        assert [bits(v) for v in g] == [bits(v) for v in w], f"row {i}: {g!r} != {w!r}"


def histogram_bytes(samples_us: list[int]) -> bytes:
    h = Histogram()
    for v in samples_us:
        h.record_us(v)
    return h.to_bytes()


# -- strategies ---------------------------------------------------------------------------------
ints = st.integers(min_value=INT64[0], max_value=INT64[1])
# Floats that are whole half microseconds in ms: what stored percentiles are (bucket midpoints,
# or a recorded extreme), packed as integers; they must rebuild the identical double.
half_us = st.integers(min_value=-(2**41), max_value=2**41).map(lambda k: (k / 2.0) / 1000.0)
# Floats that are not, or are at the edges: packed as float64 bits.
awkward = st.sampled_from(
    [
        12.3455,
        0.1 + 0.2,
        1e-9,
        1e300,
        -1e300,
        2.0**40 + 0.5,
        5e-324,
        math.inf,
        -math.inf,
        math.nan,
        1 / 3,
        -0.0,
    ]
)
# Any float at all: -0.0, subnormals, the infinities, NaN.
any_float = st.floats(allow_nan=True, allow_infinity=True)
real_histograms = st.lists(st.integers(min_value=0, max_value=10**10), min_size=1, max_size=40).map(
    histogram_bytes
)


@st.composite
def blocks(draw: st.DrawFn) -> tuple[list[tuple[Any, ...]], list[Kind]]:
    """Rows of random kinds: ``t`` first (ascending, anywhere in int64), then columns that are
    ints, floats of one flavour per column (all half-µs, or mixed), and at most one histogram
    column, as the stored rows have (two have a test of their own:
    test_two_histogram_columns_keep_their_own_bytes)."""
    others: list[Kind] = ["int", "float"]
    kinds: list[Kind] = ["int", *draw(st.lists(st.sampled_from(others), max_size=7))]
    if draw(st.booleans()):
        kinds.insert(draw(st.integers(1, len(kinds))), "histogram")
    n = draw(st.integers(min_value=0, max_value=30))
    ts = sorted(draw(st.sets(st.one_of(ints, st.integers(0, 10_000)), min_size=n, max_size=n)))
    columns: list[list[Any]] = [ts]
    for kind in kinds[1:]:
        if kind == "int":
            values = st.one_of(ints, st.integers(-5, 5), st.none()) if draw(st.booleans()) else ints
        elif kind == "float":
            flavour = draw(st.sampled_from(["half_us", "mixed"]))
            base = half_us if flavour == "half_us" else st.one_of(half_us, awkward, any_float)
            values = st.one_of(base, st.none())
        else:
            values = st.one_of(real_histograms, st.just(b""), st.none(), st.binary(max_size=20))
        columns.append(draw(st.lists(values, min_size=n, max_size=n)))
    return list(zip(*columns, strict=True)) if kinds else [], kinds


# -- round trips --------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks())
def test_random_blocks_unpack_to_exactly_the_rows_packed(
    block: tuple[list[tuple[Any, ...]], list[Kind]],
) -> None:
    rows, kinds = block
    columns, histograms = pack(rows, kinds)
    assert isinstance(columns, bytes) and isinstance(histograms, bytes)
    assert_identical(unpack(columns, histograms), rows)


@settings(max_examples=100, deadline=None)
@given(blocks())
def test_columns_without_histograms_are_the_same_but_for_the_histograms(
    block: tuple[list[tuple[Any, ...]], list[Kind]],
) -> None:
    rows, kinds = block
    columns, _ = pack(rows, kinds)
    got = unpack_columns(columns)
    assert len(got) == len(kinds)
    for index, kind in enumerate(kinds):
        want = [None] * len(rows) if kind == "histogram" else [row[index] for row in rows]
        assert [bits(v) for v in got[index]] == [bits(v) for v in want]


def test_an_empty_block_round_trips() -> None:
    every: list[list[Kind]] = [[], ["int"], list(ENDPOINT_KINDS)]
    for kinds in every:
        columns, histograms = pack([], kinds)
        assert unpack(columns, histograms) == []
        assert unpack_columns(columns, histograms) == [[] for _ in kinds]


def test_one_row_round_trips_with_its_types() -> None:
    h = histogram_bytes([80_000, 80_000, 120_500, 3])
    row = (7, 2**62, -(2**63), 12.3455, 0.1 + 0.2, 1e-9, None, 80.0005, h, b"", None)
    kinds: list[Kind] = ["int", "int", "int", "float", "float", "float", "float", "float", "histogram"]
    kinds += ["histogram", "histogram"]
    assert_identical(unpack(*pack([row], kinds)), [row])


@pytest.mark.parametrize(
    "values",
    [
        [12.3455, 80.0],  # one value that is not whole half-µs: the column goes as float64 bits
        [0.1 + 0.2, 0.3],  # differ in the last bit
        [1e-9, 0.0005],
        [2.0**40, 2.0**40 + 1.0, 1e300],  # past the half-µs range
        [80.0005, 79.9995, 0.0, 1049.0, None, 2.0**40],  # all whole half-µs: packed as integers
        [None, None],
        [math.inf, 1.5],
    ],
)
def test_float_columns_keep_every_bit(values: list[float | None]) -> None:
    rows = [(t, v) for t, v in enumerate(values)]
    assert_identical(unpack(*pack(rows, ["int", "float"])), rows)


def test_nan_keeps_its_bits() -> None:
    quiet = struct.unpack("<d", struct.pack("<Q", 0x7FF8_0000_0000_0001))[0]
    rows = [(0, quiet), (1, 2.5)]
    back = unpack(*pack(rows, ["int", "float"]))
    assert math.isnan(back[0][1])
    assert struct.pack("<d", back[0][1]) == struct.pack("<d", quiet)


def test_negative_zero_keeps_its_sign() -> None:
    # -0.0 == 0.0, so comparing with == (as the service's round-trip check does) misses this.
    rows = [(0, -0.0), (1, 1.5)]
    back = unpack(*pack(rows, ["int", "float"]))
    assert math.copysign(1.0, back[0][1]) == -1.0


def test_histogram_bytes_come_back_as_bytes_in_order() -> None:
    blobs = [histogram_bytes([1, 2, 3]), b"", None, histogram_bytes([10**9]), b"", histogram_bytes([5] * 9)]
    rows = [(t, blob) for t, blob in enumerate(blobs)]
    back = unpack(*pack(rows, ["int", "histogram"]))
    assert_identical(back, rows)
    assert [type(r[1]) for r in back] == [bytes, bytes, type(None), bytes, bytes, bytes]
    assert [Histogram.from_bytes(r[1]).to_dict() for r in back if r[1]] == [
        Histogram.from_bytes(b).to_dict() for b in blobs if b
    ]


def test_two_histogram_columns_keep_their_own_bytes() -> None:
    # pack() takes any kinds; each histogram column must read its own part of the blob.
    rows = [(0, histogram_bytes([1]), histogram_bytes([2, 2])), (1, None, histogram_bytes([3_000_000]))]
    assert_identical(unpack(*pack(rows, ["int", "histogram", "histogram"])), rows)


def test_memoryviews_and_numpy_values_are_packed_as_their_values() -> None:
    # What a database driver or a numpy computation may hand over.
    h = histogram_bytes([42_000, 43_000])
    rows = [(np.int64(3), np.int64(20), np.float64(12.5), memoryview(h))]
    back = unpack(*pack(rows, ["int", "int", "float", "histogram"]))
    assert_identical(back, [(3, 20, 12.5, h)])


# -- size ---------------------------------------------------------------------------------------
def steady_endpoint_block(seed: int) -> tuple[list[tuple[Any, ...]], int]:
    """``BLOCK_SECONDS`` of one steady endpoint: 15–25 requests a second, log-normal around
    80 ms, a failure now and then; percentiles from the seconds' real histograms. Also returns
    the bytes of the histograms as stored."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[Any, ...]] = []
    stored = 0
    for t in range(BLOCK_SECONDS):
        n = int(rng.integers(15, 26))
        h = Histogram()
        for v in rng.lognormal(np.log(80), 0.35, size=n):
            h.record_ms(float(v))
        ps = h.percentiles_ms((50, 95, 99))
        blob = h.to_bytes()
        stored += len(blob)
        failures = int(rng.random() < 0.05)
        rows.append(
            (t, n, failures, n * 1200 + int(rng.integers(-300, 300)), ps[50], ps[95], ps[99], h.max_ms, blob)
        )
    return rows, stored


@pytest.mark.parametrize("seed", [0, 1])
def test_a_steady_block_packs_to_well_under_its_row_form(seed: int) -> None:
    rows, stored = steady_endpoint_block(seed)
    columns, histograms = pack(rows, ENDPOINT_KINDS)
    assert_identical(unpack(columns, histograms), rows)
    numeric = 8 * (len(ENDPOINT_KINDS) - 1) * len(rows)  # 8 bytes a number, as columns hold them
    # Measured (seeds 0–4): columns 16.7–17.0 % of the 8-byte numbers; histograms 87.2–87.5 % of
    # their stored bytes (already varint-compact: zlib finds little); together 44.5–44.7 % of the
    # two. The bounds leave a little room for zlib and numpy versions, no more.
    assert len(columns) < 0.22 * numeric
    assert len(histograms) < 0.92 * stored
    assert len(columns) + len(histograms) < 0.50 * (stored + numeric)


# -- damage -------------------------------------------------------------------------------------
def sample_block() -> tuple[bytes, bytes]:
    rows = [(t, t * 3, 80.0 + t / 2000, histogram_bytes([80_000 + t])) for t in range(50)]
    return pack(rows, ["int", "int", "float", "histogram"])


def test_an_unknown_format_is_a_value_error() -> None:
    columns, histograms = sample_block()
    data = bytearray(zlib.decompress(columns))
    data[0] = 99
    with pytest.raises(ValueError, match="format"):
        unpack(zlib.compress(bytes(data)), histograms)


def test_an_unknown_column_tag_is_a_value_error() -> None:
    columns, histograms = sample_block()
    data = bytearray(zlib.decompress(columns))
    data[9] = 77  # the first column's tag, after the 9-byte prefix
    with pytest.raises(ValueError):
        unpack(zlib.compress(bytes(data)), histograms)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda c: b"", id="empty"),
        pytest.param(lambda c: b"not a packed block", id="garbage"),
        pytest.param(lambda c: c[: len(c) // 2], id="truncated-stream"),
        pytest.param(lambda c: zlib.compress(zlib.decompress(c)[:5]), id="truncated-prefix"),
        pytest.param(lambda c: zlib.compress(zlib.decompress(c)[:40]), id="truncated-columns"),
        pytest.param(lambda c: zlib.compress(zlib.decompress(c) + b"\x00" * 16), id="trailing-bytes"),
    ],
)
def test_damaged_columns_are_a_value_error(damage: Any) -> None:
    columns, histograms = sample_block()
    with pytest.raises(ValueError):
        unpack(damage(columns), histograms)


def test_histograms_of_another_block_are_a_value_error() -> None:
    # Their lengths do not add up to the blob: slicing would hand out wrong bytes silently.
    columns, _ = sample_block()
    _, other = pack([(0, histogram_bytes([1, 2, 3]))], ["int", "histogram"])
    with pytest.raises(ValueError):
        unpack(columns, other)
