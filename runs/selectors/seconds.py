"""A run's per-second rows, wherever they are stored: RunSecond and EndpointSecond rows, or the
PackedSeconds blocks an ended run's rows were packed into (``runs.services.packing``).

Readers that may see an ended run ask here, by field name, and get the same tuples either way
(``values_list`` order: by ``t``; endpoints by ``(t, method, name)``). Only runs with
``packed_at`` set read blocks, so an unpacked run costs no more than before. A reader that
finds no rows of an ended run which was packed after it read the run (the packer deletes the
rows in the transaction that writes the blocks) reads the blocks instead.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from itertools import groupby
from typing import Any

from django.db.models import Q, QuerySet

from runs.core.packing import BLOCK_SECONDS, ENDPOINT_FIELDS, RUN_FIELDS, unpack_columns
from runs.models import EndpointSecond, PackedSeconds, Run, RunSecond

Endpoint = tuple[str, str]
BLOCKS_AT_ONCE = 20  # blocks read per round trip while streaming (~40 KB each)
ENDED = (Run.Status.FINISHED, Run.Status.FAILED, Run.Status.CANCELLED)


def _range(lo: int | None, hi: int | None) -> Q:
    q = Q()
    if lo is not None:
        q &= Q(t1__gte=lo)
    if hi is not None:
        q &= Q(t0__lte=hi)
    return q


def _rows_of_block(
    *,
    columns: bytes,
    histograms: bytes | None,
    fields: Sequence[str],
    all_fields: Sequence[str],
    lo: int | None,
    hi: int | None,
    extra: dict[str, Any] | None = None,
) -> Iterator[tuple[Any, ...]]:
    wanted = {i for i, f in enumerate(all_fields) if f in fields or f == "t"}
    decoded = unpack_columns(
        bytes(columns), bytes(histograms) if histograms is not None else None, wanted=wanted
    )
    by_name = dict(zip(all_fields, decoded, strict=True))
    n = len(by_name["t"])
    picked = [by_name[f] if f in by_name else [(extra or {})[f]] * n for f in fields]
    for i, t in enumerate(by_name["t"]):
        if (lo is None or t >= lo) and (hi is None or t <= hi):
            yield tuple(column[i] for column in picked)


def _packed_meanwhile(run: Run) -> Run | None:
    """``run`` as packed when it was packed after the caller read it (rows found empty)."""
    if run.status not in ENDED or run.last_t < 0:
        return None
    packed_at = Run.objects.filter(pk=run.pk).values_list("packed_at", flat=True).first()
    return Run(pk=run.pk, packed_at=packed_at) if packed_at is not None else None


def _in_range(qs: QuerySet[Any], lo: int | None, hi: int | None) -> QuerySet[Any]:
    if lo is not None:
        qs = qs.filter(t__gte=lo)
    if hi is not None:
        qs = qs.filter(t__lte=hi)
    return qs


def iter_run_second_values(
    *, run: Run, fields: Sequence[str], lo: int | None = None, hi: int | None = None, chunk: int = 2000
) -> Iterator[tuple[Any, ...]]:
    """The run's RunSecond ``fields`` of seconds ``lo..hi`` (inclusive; None: open), by ``t``,
    streamed: ``chunk`` rows, or one block, at a time."""
    if run.packed_at is None:
        found = False
        qs = _in_range(RunSecond.objects.filter(run=run), lo, hi)
        for row in qs.order_by("t").values_list(*fields).iterator(chunk_size=chunk):
            found = True
            yield row
        if found or (packed := _packed_meanwhile(run)) is None:
            return
        run = packed
    want_hist = "histogram" in fields
    blocks = (
        PackedSeconds.objects.filter(_range(lo, hi), run=run, endpoint=False)
        .order_by("t0")
        .values_list("columns", "histograms" if want_hist else "rows")
    )
    for columns, hist in blocks.iterator(chunk_size=BLOCKS_AT_ONCE):
        yield from _rows_of_block(
            columns=columns,
            histograms=hist if want_hist else None,
            fields=fields,
            all_fields=RUN_FIELDS,
            lo=lo,
            hi=hi,
        )


def run_second_values(
    *, run: Run, fields: Sequence[str], lo: int | None = None, hi: int | None = None
) -> list[tuple[Any, ...]]:
    """``iter_run_second_values`` as a list."""
    return list(iter_run_second_values(run=run, fields=fields, lo=lo, hi=hi))


def run_second_dicts(
    *, run: Run, fields: Sequence[str], lo: int | None = None, hi: int | None = None
) -> list[dict[str, Any]]:
    """``run_second_values`` as dicts (``values()``)."""
    return [
        dict(zip(fields, row, strict=True))
        for row in iter_run_second_values(run=run, fields=fields, lo=lo, hi=hi)
    ]


def iter_endpoint_second_values(
    *,
    run: Run,
    fields: Sequence[str],
    lo: int | None = None,
    hi: int | None = None,
    names: Collection[str] | None = None,
    endpoint: Endpoint | None = None,
    chunk: int = 5000,
) -> Iterator[tuple[Any, ...]]:
    """The run's EndpointSecond ``fields`` (``method`` and ``name`` among them if wanted) of
    seconds ``lo..hi``, of the endpoints named ``names`` or of one ``endpoint``, by
    ``(t, method, name)``; streamed: ``chunk`` rows, or the blocks of one span of seconds,
    at a time (every series' blocks start at the same multiples of ``BLOCK_SECONDS``)."""
    if run.packed_at is None:
        found = False
        qs = _in_range(EndpointSecond.objects.filter(run=run), lo, hi)
        if names is not None:
            qs = qs.filter(name__in=list(names))
        if endpoint is not None:
            qs = qs.filter(method=endpoint[0], name=endpoint[1])
        for row in qs.order_by("t", "method", "name").values_list(*fields).iterator(chunk_size=chunk):
            found = True
            yield row
        if found or (packed := _packed_meanwhile(run)) is None:
            return
        run = packed
    want_hist = "histogram" in fields
    blocks = PackedSeconds.objects.filter(_range(lo, hi), run=run, endpoint=True)
    if names is not None:
        blocks = blocks.filter(name__in=list(names))
    if endpoint is not None:
        blocks = blocks.filter(method=endpoint[0], name=endpoint[1])
    strip_t = "t" not in fields  # asked for only to order the rows
    with_t = (*fields, "t") if strip_t else tuple(fields)
    t_at = with_t.index("t")
    rows = blocks.order_by("t0").values_list(
        "t0", "method", "name", "columns", "histograms" if want_hist else "rows"
    )
    # One span of BLOCK_SECONDS at a time (a block's t0 is its first stored second).
    for _, span in groupby(rows.iterator(chunk_size=BLOCKS_AT_ONCE), key=lambda b: b[0] // BLOCK_SECONDS):
        keyed: list[tuple[int, str, str, tuple[Any, ...]]] = []
        for _, method, name, columns, hist in span:
            for row in _rows_of_block(
                columns=columns,
                histograms=hist if want_hist else None,
                fields=with_t,
                all_fields=ENDPOINT_FIELDS,
                lo=lo,
                hi=hi,
                extra={"method": method, "name": name},
            ):
                keyed.append((row[t_at], method, name, row[:-1] if strip_t else row))
        keyed.sort(key=lambda k: (k[0], k[1], k[2]))
        yield from (row for *_, row in keyed)


def endpoint_second_values(
    *,
    run: Run,
    fields: Sequence[str],
    lo: int | None = None,
    hi: int | None = None,
    names: Collection[str] | None = None,
    endpoint: Endpoint | None = None,
) -> list[tuple[Any, ...]]:
    """``iter_endpoint_second_values`` as a list."""
    return list(
        iter_endpoint_second_values(run=run, fields=fields, lo=lo, hi=hi, names=names, endpoint=endpoint)
    )


def endpoint_second_dicts(
    *,
    run: Run,
    fields: Sequence[str],
    lo: int | None = None,
    hi: int | None = None,
    endpoint: Endpoint | None = None,
) -> list[dict[str, Any]]:
    """``endpoint_second_values`` as dicts (``values()``)."""
    return [
        dict(zip(fields, row, strict=True))
        for row in endpoint_second_values(run=run, fields=fields, lo=lo, hi=hi, endpoint=endpoint)
    ]


def endpoint_known(*, run: Run, endpoint: Endpoint) -> bool:
    """Whether the run stored any second of ``endpoint``."""
    if run.packed_at is None:
        return EndpointSecond.objects.filter(run=run, method=endpoint[0], name=endpoint[1]).exists()
    return PackedSeconds.objects.filter(run=run, endpoint=True, method=endpoint[0], name=endpoint[1]).exists()
