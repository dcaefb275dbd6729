"""Packing: an ended run's per-second rows stored as blocks, exactly (``runs.core.packing``).

A RunSecond or EndpointSecond row costs a tuple header, keys and columns every second: a
one-hour run at one endpoint stores 1.07 MB that way, at twenty endpoints 0.71 MB per endpoint.
Packed, every ``BLOCK_SECONDS`` of a series is one PackedSeconds row whose columns are
compressed arrays and whose histograms are the compact encodings one after the other; the
values are the same, and so is every figure computed from them.

``SCALETEST_PACK_AFTER_HOURS`` after it ended (by ``finished_at``), a run at full resolution
is packed by the hourly beat task (and ``manage.py retention --pack``), pinned runs and
baselines included: nothing is lost. In one transaction per run: the run is claimed
(``packed_at``), its rows are packed, every block is unpacked again and compared with the rows
(a mismatch raises and rolls everything back), the blocks are written and the rows deleted.
``run_unpack`` restores the rows (the retention roll-up starts with it).

Readers see the same rows through ``runs.selectors.seconds``.
"""

from __future__ import annotations

import datetime as dt
import logging
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from runs.core.packing import (
    BLOCK_SECONDS,
    ENDPOINT_FIELDS,
    ENDPOINT_KINDS,
    RUN_FIELDS,
    RUN_KINDS,
    Kind,
    pack,
    unpack,
)
from runs.models import EndpointSecond, PackedSeconds, Run, RunSecond
from runs.selectors.seconds import ENDED

log = logging.getLogger(__name__)

INSERT_BATCH = 200


class PackMismatch(Exception):
    """A packed block did not unpack to the rows it was made from (nothing was changed)."""


@dataclass
class PackResult:
    run_id: int
    packed: bool
    rows: int = 0  # RunSecond + EndpointSecond rows packed
    blocks: int = 0
    reason: str = ""  # why not, when not packed

    def describe(self) -> str:
        if not self.packed:
            return f"Run #{self.run_id}: not packed ({self.reason})"
        return f"Run #{self.run_id}: {self.rows} per-second rows packed into {self.blocks} blocks"


def pack_candidates(*, hours: float, now: dt.datetime | None = None) -> QuerySet[Run]:
    """Ended runs at full resolution, finished more than ``hours`` ago, not packed yet."""
    cutoff = (now or timezone.now()) - dt.timedelta(hours=hours)
    return Run.objects.filter(
        status__in=ENDED, finished_at__lt=cutoff, packed_at__isnull=True, resolution_s=1
    ).order_by("finished_at", "pk")


def _plain(row: Sequence[Any]) -> tuple[Any, ...]:
    """``row`` with bytes as bytes and floats as their bits (-0.0 == 0.0, but not the same)."""
    return tuple(
        bytes(v) if isinstance(v, memoryview) else struct.pack("<d", v) if isinstance(v, float) else v
        for v in row
    )


def _same(a: Sequence[Any], b: Sequence[Any]) -> bool:
    return len(a) == len(b) and all(_plain(x) == _plain(y) for x, y in zip(a, b, strict=True))


def _blocks(
    rows: Iterable[tuple[Any, ...]], kinds: Sequence[Kind], *, run_id: int, method: str = "", name: str = ""
) -> list[PackedSeconds]:
    out = []
    for _, group in groupby(rows, key=lambda r: r[0] // BLOCK_SECONDS):
        chunk = list(group)
        columns, histograms = pack(chunk, kinds)
        if not _same(chunk, unpack(columns, histograms)):
            raise PackMismatch(
                f"run {run_id}: a block of {method} {name} at {chunk[0][0]} s did not round-trip"
            )
        out.append(
            PackedSeconds(
                run_id=run_id,
                endpoint=bool(method or name),
                method=method,
                name=name,
                t0=chunk[0][0],
                t1=chunk[-1][0],
                rows=len(chunk),
                columns=columns,
                histograms=histograms,
            )
        )
    return out


def _why_not(run_id: int) -> str:
    run = Run.objects.filter(pk=run_id).values("status", "packed_at", "resolution_s").first()
    if run is None:
        return "no such run"
    if run["packed_at"] is not None:
        return "already packed"
    if run["status"] not in ENDED:
        return f"it is {run['status']}: only ended runs are packed"
    return f"rolled up to {run['resolution_s']} s: its rows are already few"


def run_pack(*, run_id: int) -> PackResult:
    """Pack one ended run's per-second rows (see the module docstring); idempotent."""
    with transaction.atomic():
        claimed = Run.objects.filter(
            pk=run_id, status__in=ENDED, packed_at__isnull=True, resolution_s=1
        ).update(packed_at=timezone.now())
        if not claimed:
            return PackResult(run_id=run_id, packed=False, reason=_why_not(run_id))
        seconds = list(RunSecond.objects.filter(run_id=run_id).order_by("t").values_list(*RUN_FIELDS))
        blocks = _blocks(seconds, RUN_KINDS, run_id=run_id)
        count = len(seconds)
        del seconds
        # Read whole (not streamed): a mismatch raised halfway must not leave a server-side
        # cursor to close after the rollback (PostgreSQL then aborts the outer transaction).
        endpoint_rows = list(
            EndpointSecond.objects.filter(run_id=run_id)
            .order_by("method", "name", "t")
            .values_list("method", "name", *ENDPOINT_FIELDS)
        )
        for (method, name), group in groupby(endpoint_rows, key=lambda r: (r[0], r[1])):
            rows = [r[2:] for r in group]
            if not method and not name:
                raise PackMismatch(f"run {run_id}: an endpoint with neither method nor name")
            blocks.extend(_blocks(rows, ENDPOINT_KINDS, run_id=run_id, method=method, name=name))
            count += len(rows)
        PackedSeconds.objects.bulk_create(blocks, batch_size=INSERT_BATCH)
        RunSecond.objects.filter(run_id=run_id).delete()
        EndpointSecond.objects.filter(run_id=run_id).delete()
    log.info("run %s: %s per-second rows packed into %s blocks", run_id, count, len(blocks))
    return PackResult(run_id=run_id, packed=True, rows=count, blocks=len(blocks))


def _insert_sql(model: type[RunSecond] | type[EndpointSecond], fields: Sequence[str]) -> str:
    """``INSERT`` of one row of ``model`` with ``fields`` (names of ours, values parameters)."""
    quote = connection.ops.quote_name
    columns = list(fields)  # every column is named as its field (``run_id`` the foreign key's)
    placeholders = ", ".join(["%s"] * len(columns))
    table = quote(model._meta.db_table)
    return f"INSERT INTO {table} ({', '.join(map(quote, columns))}) VALUES ({placeholders})"


def run_unpack(*, run_id: int) -> bool:
    """Restore a packed run's RunSecond and EndpointSecond rows (and forget its blocks).

    Call inside a transaction that locks the run, or alone: it opens its own."""
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id, packed_at__isnull=False).first()
        if run is None:
            return False
        # One short statement run for many rows (psycopg pipelines it): a multi-row INSERT of
        # 72,000 rows spends most of its time building and parsing the statement.
        run_insert = _insert_sql(RunSecond, ("run_id", *RUN_FIELDS))
        endpoint_insert = _insert_sql(EndpointSecond, ("run_id", "method", "name", *ENDPOINT_FIELDS))
        blocks = PackedSeconds.objects.filter(run_id=run_id).order_by("endpoint", "method", "name", "t0")
        with connection.cursor() as cursor:
            for block in list(blocks):  # not streamed: see run_pack
                rows = unpack(bytes(block.columns), bytes(block.histograms))
                if block.endpoint:
                    cursor.executemany(
                        endpoint_insert, [(run_id, block.method, block.name, *row) for row in rows]
                    )
                else:
                    cursor.executemany(run_insert, [(run_id, *row) for row in rows])
        PackedSeconds.objects.filter(run_id=run_id).delete()
        Run.objects.filter(pk=run_id).update(packed_at=None)
    return True


def packing_apply(*, hours: float | None = None, limit: int | None = None) -> list[PackResult]:
    """Pack every candidate (``SCALETEST_PACK_AFTER_HOURS`` by default), one run at a time.

    A run that fails to pack is logged and left as it was; the others go on."""
    hours = settings.SCALETEST_PACK_AFTER_HOURS if hours is None else hours
    if hours < 0:
        return []
    ids = list(pack_candidates(hours=hours).values_list("pk", flat=True)[:limit])
    results = []
    for run_id in ids:
        try:
            results.append(run_pack(run_id=run_id))
        except Exception:
            log.exception("run %s: packing failed; its rows are kept as they were", run_id)
    return results
