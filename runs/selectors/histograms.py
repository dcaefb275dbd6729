"""Reading stored histograms: the compact bytes (and older dict rows), decoded in bulk, with the
per-second histograms of single-endpoint seconds filled in from their endpoint's row.

A RunSecond whose second had exactly one endpoint stores no histogram (the endpoint's
EndpointSecond row holds the same one): ``requests > 0`` with an empty histogram means "look
there". Readers of RunSecond histograms go through ``second_histograms``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from django.utils import timezone

from runs.core.histogram import Histogram, decode_many
from runs.models import Run
from runs.selectors.seconds import iter_endpoint_second_values

Stored = bytes | bytearray | memoryview | dict[str, Any] | None


def histograms_load(stored: Sequence[Stored]) -> list[Histogram]:
    """Decode many stored histograms at once (numpy for the compact form; dict rows one by one)."""
    if any(isinstance(s, dict) for s in stored):
        return [Histogram.load(s) for s in stored]
    return decode_many([s or b"" for s in stored]).histograms()  # type: ignore[misc]


def second_histograms_fill(*, run_id: int, ts: Collection[int], packed: bool = False) -> dict[int, Histogram]:
    """The histogram of each second ``ts`` of the run, merged from its EndpointSecond rows
    (from its blocks when the run is ``packed``)."""
    if not ts:
        return {}
    wanted = set(ts)
    stub = Run(pk=run_id, packed_at=timezone.now() if packed else None)  # what the reader needs
    found = iter_endpoint_second_values(run=stub, fields=("t", "histogram"), lo=min(wanted), hi=max(wanted))
    rows = [(t, blob) for t, blob in found if t in wanted]
    merged: dict[int, Histogram] = {}
    for (t, _), h in zip(rows, histograms_load([blob for _, blob in rows]), strict=True):
        if t in merged:
            merged[t] = Histogram().merge(merged[t]).merge(h)
        else:
            merged[t] = h
    return merged


def second_histograms(
    *, run_id: int, rows: Sequence[tuple[int, int, Stored]], packed: bool = False
) -> list[Histogram]:
    """Histograms of RunSecond rows given as ``(t, requests, stored histogram)``, in order
    (``packed``: the run's rows are in blocks, ``runs.selectors.seconds``)."""
    out = histograms_load([stored for _, _, stored in rows])
    elided = [i for i, (_, requests, stored) in enumerate(rows) if requests and not stored]
    if elided:
        filled = second_histograms_fill(run_id=run_id, ts=[rows[i][0] for i in elided], packed=packed)
        for i in elided:
            out[i] = filled.get(rows[i][0], out[i])
    return out


def second_rows_with_dicts(
    *,
    run_id: int,
    rows: Iterable[tuple[Any, ...]],
    t_index: int,
    requests_index: int,
    chunk: int,
    packed: bool = False,
) -> Iterator[tuple[Any, ...]]:
    """RunSecond rows whose last field is a stored histogram, with that field as ``to_dict``
    (the exported form), elided ones filled in; read ``chunk`` rows at a time."""
    it = iter(rows)
    while batch := list(islice(it, chunk)):
        hists = second_histograms(
            run_id=run_id, rows=[(r[t_index], r[requests_index], r[-1]) for r in batch], packed=packed
        )
        for row, h in zip(batch, hists, strict=True):
            yield (*row[:-1], h.to_dict())


def rows_with_dicts(rows: Iterable[tuple[Any, ...]], *, chunk: int) -> Iterator[tuple[Any, ...]]:
    """Rows whose last field is a stored histogram, with that field as ``to_dict``."""
    it = iter(rows)
    while batch := list(islice(it, chunk)):
        for row, h in zip(batch, histograms_load([r[-1] for r in batch]), strict=True):
            yield (*row[:-1], h.to_dict())
