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
from typing import Any

from django.db.models import Q

from runs.core.packing import ENDPOINT_FIELDS, RUN_FIELDS, unpack_columns
from runs.models import EndpointSecond, PackedSeconds, Run, RunSecond

Endpoint = tuple[str, str]
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


def run_second_values(
    *, run: Run, fields: Sequence[str], lo: int | None = None, hi: int | None = None
) -> list[tuple[Any, ...]]:
    """The run's RunSecond ``fields`` of seconds ``lo..hi`` (inclusive; None: open), by ``t``."""
    if run.packed_at is None:
        qs = RunSecond.objects.filter(run=run)
        if lo is not None:
            qs = qs.filter(t__gte=lo)
        if hi is not None:
            qs = qs.filter(t__lte=hi)
        rows = list(qs.order_by("t").values_list(*fields).iterator(chunk_size=2000))
        if rows or (packed := _packed_meanwhile(run)) is None:
            return rows
        run = packed
    want_hist = "histogram" in fields
    blocks = (
        PackedSeconds.objects.filter(_range(lo, hi), run=run, endpoint=False)
        .order_by("t0")
        .values_list("columns", "histograms" if want_hist else "rows")
    )
    out: list[tuple[Any, ...]] = []
    for columns, hist in blocks:
        out.extend(
            _rows_of_block(
                columns=columns,
                histograms=hist if want_hist else None,
                fields=fields,
                all_fields=RUN_FIELDS,
                lo=lo,
                hi=hi,
            )
        )
    return out


def run_second_dicts(
    *, run: Run, fields: Sequence[str], lo: int | None = None, hi: int | None = None
) -> list[dict[str, Any]]:
    """``run_second_values`` as dicts (``values()``)."""
    return [
        dict(zip(fields, row, strict=True)) for row in run_second_values(run=run, fields=fields, lo=lo, hi=hi)
    ]


def endpoint_second_values(
    *,
    run: Run,
    fields: Sequence[str],
    lo: int | None = None,
    hi: int | None = None,
    names: Collection[str] | None = None,
    endpoint: Endpoint | None = None,
) -> list[tuple[Any, ...]]:
    """The run's EndpointSecond ``fields`` (``method`` and ``name`` among them if wanted) of
    seconds ``lo..hi``, of the endpoints named ``names`` or of one ``endpoint``, by
    ``(t, method, name)``."""
    if run.packed_at is None:
        qs = EndpointSecond.objects.filter(run=run)
        if lo is not None:
            qs = qs.filter(t__gte=lo)
        if hi is not None:
            qs = qs.filter(t__lte=hi)
        if names is not None:
            qs = qs.filter(name__in=list(names))
        if endpoint is not None:
            qs = qs.filter(method=endpoint[0], name=endpoint[1])
        rows = list(qs.order_by("t", "method", "name").values_list(*fields).iterator(chunk_size=5000))
        if rows or (packed := _packed_meanwhile(run)) is None:
            return rows
        run = packed
    want_hist = "histogram" in fields
    blocks = PackedSeconds.objects.filter(_range(lo, hi), run=run, endpoint=True)
    if names is not None:
        blocks = blocks.filter(name__in=list(names))
    if endpoint is not None:
        blocks = blocks.filter(method=endpoint[0], name=endpoint[1])
    keyed: list[tuple[int, str, str, tuple[Any, ...]]] = []
    t_at = list(fields).index("t") if "t" in fields else None
    for method, name, columns, hist in blocks.values_list(
        "method", "name", "columns", "histograms" if want_hist else "rows"
    ):
        for row in _rows_of_block(
            columns=columns,
            histograms=hist if want_hist else None,
            fields=(*fields, "t") if t_at is None else fields,
            all_fields=ENDPOINT_FIELDS,
            lo=lo,
            hi=hi,
            extra={"method": method, "name": name},
        ):
            t = row[-1] if t_at is None else row[t_at]
            keyed.append((t, method, name, row[:-1] if t_at is None else row))
    keyed.sort(key=lambda k: (k[0], k[1], k[2]))
    return [row for *_, row in keyed]


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
