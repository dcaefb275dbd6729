"""Packing per-second rows into blocks, exactly (the storage of ended runs).

A block is a run of consecutive rows of one series (the run's own seconds, or one endpoint's)
stored as two compressed byte strings instead of one database row per second:

* ``columns``: every column as a numpy array, byte-shuffled (all first bytes, then all second
  bytes, …, which is where counters of similar size repeat) and compressed together. Integer
  columns are int64; ``t`` is stored as differences (consecutive seconds are a run of 1s).
  A float column whose every value is a whole number of half microseconds in milliseconds (the
  stored percentiles are bucket midpoints or a recorded extreme: ``runs.core.histogram``) is
  stored as that integer, which rebuilds the identical float; any other float column as its
  float64 bits. Null values have a mask.
* ``histograms``: the rows' histograms in their compact stored form, one after the other,
  compressed; their lengths are a column (``-1`` for a null).

``unpack`` returns exactly the values ``pack`` was given (same ints, bit-identical floats,
same bytes); ``runs.services.packing`` checks that on every block before it deletes a row.

Pure module: no Django, no I/O.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Collection, Sequence
from typing import Any, Literal

import numpy as np

Kind = Literal["int", "float", "histogram"]

BLOCK_SECONDS = 600  # seconds of a series per block (an hour at 20 endpoints: 126 blocks)
FORMAT = 1
LEVEL = 6  # zlib's default level

# The columns of a RunSecond and of an EndpointSecond block, in order (``t`` first); an
# endpoint block's method and name are its own columns in the database.
RUN_FIELDS: tuple[str, ...] = (
    "t",
    "users",
    "requests",
    "failures",
    "bytes",
    "cpu_percent",
    "dropped_iterations",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "mean_ms",
    "histogram",
)
RUN_KINDS: tuple[Kind, ...] = (
    "int",
    "int",
    "int",
    "int",
    "int",
    "float",
    "int",
    "float",
    "float",
    "float",
    "float",
    "float",
    "histogram",
)
ENDPOINT_FIELDS: tuple[str, ...] = (
    "t",
    "requests",
    "failures",
    "bytes",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "histogram",
)
ENDPOINT_KINDS: tuple[Kind, ...] = (
    "int",
    "int",
    "int",
    "int",
    "float",
    "float",
    "float",
    "float",
    "histogram",
)

# Column tags in the packed form.
_INT, _DELTA, _HALF_US, _FLOAT, _LENGTHS = 1, 2, 3, 4, 5
_HEADER = struct.Struct("<BBI")  # tag, has a null mask, payload length
_PREFIX = struct.Struct("<BII")  # format, rows, columns


def _shuffle(arr: np.ndarray) -> bytes:
    return np.ascontiguousarray(
        arr.astype("<i8" if arr.dtype.kind == "i" else "<f8").view(np.uint8).reshape(-1, 8).T
    ).tobytes()


def _unshuffle(data: bytes, n: int, dtype: str) -> np.ndarray:
    return np.frombuffer(data, dtype=np.uint8).reshape(8, n).T.copy().view(dtype).reshape(n)


def _half_us(values: np.ndarray) -> np.ndarray | None:
    """``values`` (ms) as whole half microseconds when that rebuilds each float exactly."""
    if not len(values) or not np.all(np.isfinite(values)) or np.max(np.abs(values)) > 2.0**40:
        return None
    if np.any(np.signbit(values) & (values == 0)):
        return None  # -0.0 == 0.0, but it is not the same float
    k = np.rint(values * 2000.0)
    return k.astype(np.int64) if np.array_equal((k / 2.0) / 1000.0, values) else None


def pack(rows: Sequence[Sequence[Any]], kinds: Sequence[Kind]) -> tuple[bytes, bytes]:
    """``rows`` (tuples in the order of ``kinds``) as ``(columns, histograms)`` byte strings.

    The first column is ``t`` (ascending ints). Histogram values are the stored compact bytes
    (or None)."""
    n = len(rows)
    parts: list[bytes] = [_PREFIX.pack(FORMAT, n, len(kinds))]
    blobs: list[bytes] = []
    for index, kind in enumerate(kinds):
        column = [row[index] for row in rows]
        nulls = [v is None for v in column]
        masked = any(nulls)
        mask = np.packbits(np.array(nulls, dtype=bool)).tobytes() if masked else b""
        if kind == "histogram":
            lengths = np.array([-1 if v is None else len(v) for v in column], dtype=np.int64)
            blobs.extend(bytes(v) for v in column if v is not None)
            tag, payload = _LENGTHS, _shuffle(lengths)
            mask = b""
            masked = False
        elif kind == "int":
            ints = np.array([0 if v is None else int(v) for v in column], dtype=np.int64)
            if index == 0:
                tag, payload = _DELTA, _shuffle(np.diff(ints, prepend=0))
            else:
                tag, payload = _INT, _shuffle(ints)
        else:
            floats = np.array([0.0 if v is None else float(v) for v in column], dtype=np.float64)
            halves = _half_us(floats)
            if halves is not None:
                tag, payload = _HALF_US, _shuffle(halves)
            else:
                tag, payload = _FLOAT, _shuffle(floats)
        parts.append(_HEADER.pack(tag, int(masked), len(mask) + len(payload)))
        parts.append(mask + payload)
    return zlib.compress(b"".join(parts), LEVEL), zlib.compress(b"".join(blobs), LEVEL)


def unpack_columns(
    columns: bytes, histograms: bytes | None = None, *, wanted: Collection[int] | None = None
) -> list[list[Any]]:
    """The columns ``pack`` was given, as lists of Python values (histograms as bytes; their
    column is a list of None when ``histograms`` is not passed, which skips decompressing it).
    With ``wanted`` (column indexes), the other columns are empty lists: not converted.

    Damaged input (or columns paired with another block's histograms) is a ValueError."""
    try:
        return _unpack_columns(columns, histograms, wanted)
    except (zlib.error, struct.error, IndexError) as exc:
        raise ValueError(f"damaged packed block: {exc}") from exc


def _unpack_columns(
    columns: bytes, histograms: bytes | None, wanted: Collection[int] | None
) -> list[list[Any]]:
    data = zlib.decompress(columns)
    fmt, n, count = _PREFIX.unpack_from(data, 0)
    if fmt != FORMAT:
        raise ValueError(f"unknown packed format {fmt}")
    offset = _PREFIX.size
    out: list[list[Any]] = []
    blob = zlib.decompress(histograms) if histograms is not None else None
    at = 0  # the next histogram's offset in ``blob`` (columns follow one another)
    for index in range(count):
        tag, masked, length = _HEADER.unpack_from(data, offset)
        offset += _HEADER.size
        if offset + length > len(data):
            raise ValueError("damaged packed block: a column runs past the end")
        payload = data[offset : offset + length]
        offset += length
        mask_len = (n + 7) // 8 if masked else 0
        if length - mask_len != 8 * n:
            raise ValueError(f"damaged packed block: a column of {length} bytes for {n} rows")
        if wanted is not None and index not in wanted and (tag != _LENGTHS or blob is None):
            out.append([])
            continue
        nulls: np.ndarray | None = None
        if masked:
            nulls = np.unpackbits(np.frombuffer(payload[:mask_len], dtype=np.uint8), count=n).astype(bool)
            payload = payload[mask_len:]
        values: list[Any]
        if tag == _LENGTHS:
            lengths = _unshuffle(payload, n, "<i8").tolist()
            if blob is None:
                values = [None] * n
            else:
                values = []
                for size in lengths:
                    if size < 0:
                        values.append(None)
                    else:
                        if at + size > len(blob):
                            raise ValueError(
                                "damaged packed block: the histograms are shorter than their lengths"
                            )
                        values.append(blob[at : at + size])
                        at += size
        elif tag == _DELTA:
            values = np.cumsum(_unshuffle(payload, n, "<i8")).tolist()
        elif tag == _INT:
            values = _unshuffle(payload, n, "<i8").tolist()
        elif tag == _HALF_US:
            values = ((_unshuffle(payload, n, "<i8") / 2.0) / 1000.0).tolist()
        elif tag == _FLOAT:
            values = _unshuffle(payload, n, "<f8").tolist()
        else:
            raise ValueError(f"unknown packed column tag {tag}")
        if nulls is not None:
            values = [None if null else v for v, null in zip(values, nulls.tolist(), strict=True)]
        out.append(values)
    if offset != len(data):
        raise ValueError("damaged packed block: bytes after the last column")
    if blob is not None and at != len(blob):
        raise ValueError("damaged packed block: histograms that are not this block's")
    return out


def unpack(columns: bytes, histograms: bytes | None = None) -> list[tuple[Any, ...]]:
    """The rows ``pack`` was given, as tuples."""
    return list(zip(*unpack_columns(columns, histograms), strict=True))
