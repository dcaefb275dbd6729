"""Copy everything ScaleTest stores from one database to another (`manage.py copy_database`).

The way a team grows out of the embedded default: every row of every installed model —
users, teams and memberships, targets, scenarios, profiles, plans, runs with their per-second
histograms and analyses, share links, API tokens, sessions — is copied with its primary key
into a new database (SQLite to PostgreSQL, or back), in one transaction on the target, then:

* the target's sequences are moved past the copied keys (PostgreSQL), so new rows get fresh ids;
* the copy is verified: the row count of every table, and a SHA-256 over every stored
  histogram (and analysis) in key order, must be equal on both sides.

A target that already holds data is refused before anything is written: the copy never
merges into or overwrites a database in use. Rows that Django's own migrations create in an
empty database (content types, permissions) are replaced by the source's, keeping their keys,
which user and group permissions point to.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connections, models, transaction

from scaletest_site.databases import database_from_url

TARGET_ALIAS = "copy_target"
CHUNK = 2000
# Made by ``migrate`` itself in an empty database (post_migrate): replaced by the source's rows.
MIGRATE_MADE = ("contenttypes.ContentType", "auth.Permission")
# Checksummed, beside the counts: what a result page is computed from.
CHECKSUMMED = {
    "runs.RunSecond": ("histogram",),
    "runs.EndpointSecond": ("histogram",),
    "runs.PackedSeconds": ("columns", "histograms"),
    "runs.EndpointSummary": ("histogram",),
    "runs.RunAnalysis": ("data",),
    "runs.Run": ("snapshot", "threshold_results"),
}


class CopyRefused(Exception):
    """The copy was not started; the message says why and what to do."""


@dataclass
class TableReport:
    label: str
    rows: int
    checksum: str = ""


@dataclass
class CopyReport:
    source: str
    target: str
    tables: list[TableReport] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


def copied_models() -> list[type[models.Model]]:
    """Every concrete model with a table of its own (many-to-many tables included)."""
    return [
        model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy and not model._meta.swapped
    ]


def _label(model: type[models.Model]) -> str:
    return model._meta.label


def describe(config: dict[str, Any]) -> str:
    if config["ENGINE"].endswith("sqlite3"):
        return f"SQLite {config['NAME']}"
    return f"PostgreSQL {config.get('HOST') or 'localhost'}:{config.get('PORT') or 5432}/{config['NAME']}"


def _open_target(url: str) -> None:
    config = database_from_url(url)
    config["CONN_MAX_AGE"] = 0
    connections.settings[TARGET_ALIAS] = connections.configure_settings({"default": config})["default"]


def _close_target() -> None:
    if TARGET_ALIAS in connections.settings:
        connections[TARGET_ALIAS].close()
        del connections.settings[TARGET_ALIAS]


def _existing_tables(alias: str) -> set[str]:
    with connections[alias].cursor() as cursor:
        return set(connections[alias].introspection.table_names(cursor))


def target_holdings(alias: str) -> list[tuple[str, int]]:
    """(table, rows) of every non-empty table of ours in ``alias``, migrate-made ones aside."""
    tables = _existing_tables(alias)
    held = []
    for model in copied_models():
        table = model._meta.db_table
        if table in tables and _label(model) not in MIGRATE_MADE:
            n = model._default_manager.using(alias).count()
            if n:
                held.append((table, n))
    return held


def _rows(model: type[models.Model], alias: str) -> Iterator[dict[str, Any]]:
    fields = [f.attname for f in model._meta.concrete_fields]
    qs = model._default_manager.using(alias).order_by("pk").values(*fields)
    yield from qs.iterator(chunk_size=CHUNK)


def checksum(model: type[models.Model], alias: str, fields: tuple[str, ...]) -> str:
    """SHA-256 over (pk, fields...) of every row in key order, JSON with sorted keys."""
    digest = hashlib.sha256()
    qs = model._default_manager.using(alias).order_by("pk").values_list("pk", *fields)
    for row in qs.iterator(chunk_size=CHUNK):
        digest.update(json.dumps(row, sort_keys=True, separators=(",", ":"), default=str).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def database_copy(
    *, target_url: str, source: str = "default", log: Callable[[str], Any] = print
) -> CopyReport:
    """Copy every row from ``source`` into the database at ``target_url`` and verify the copy.

    Raises CopyRefused (nothing written) when the target is the source or holds data, and
    CopyRefused after a copy whose verification failed (the target transaction is rolled back).
    """
    _open_target(target_url)
    try:
        src_cfg, dst_cfg = connections[source].settings_dict, connections[TARGET_ALIAS].settings_dict
        report = CopyReport(describe(src_cfg), describe(dst_cfg))
        same = (src_cfg["ENGINE"], src_cfg["NAME"], src_cfg.get("HOST"), src_cfg.get("PORT")) == (
            dst_cfg["ENGINE"],
            dst_cfg["NAME"],
            dst_cfg.get("HOST"),
            dst_cfg.get("PORT"),
        )
        if same:
            raise CopyRefused(f"The target is the database in use ({report.source}); name another one.")
        held = target_holdings(TARGET_ALIAS) if _existing_tables(TARGET_ALIAS) else []
        if held:
            listing = ", ".join(f"{table} ({n} rows)" for table, n in held[:5])
            raise CopyRefused(
                f"{report.target} already holds data: {listing}. The copy never overwrites or merges; "
                "give it a new, empty database."
            )
        log(f"Copying {report.source} -> {report.target}")
        log("Creating the tables (migrate) ...")
        call_command("migrate", database=TARGET_ALIAS, interactive=False, verbosity=0)
        chosen = copied_models()
        with transaction.atomic(using=TARGET_ALIAS):
            for label in MIGRATE_MADE:
                apps.get_model(label)._default_manager.using(TARGET_ALIAS).all().delete()
            for model in chosen:
                n = _copy_table(model, source)
                if n:
                    log(f"  {_label(model):<32} {n:>10,} rows")
            _reset_sequences(chosen)
            _verify(chosen, source, report)
        log(f"Copied and verified {report.rows:,} rows in {len(report.tables)} tables.")
        return report
    finally:
        _close_target()


@contextlib.contextmanager
def _stored_times_kept(model: type[models.Model]) -> Iterator[None]:
    """``auto_now``/``auto_now_add`` fields would stamp every copied row with the time of the
    copy (their pre_save runs in bulk_create): switched off while this model is copied."""
    stamped = [
        (f, f.auto_now, f.auto_now_add)
        for f in model._meta.concrete_fields
        if isinstance(f, models.DateField) and (f.auto_now or f.auto_now_add)
    ]
    for f, _, _ in stamped:
        f.auto_now = f.auto_now_add = False
    try:
        yield
    finally:
        for f, now, now_add in stamped:
            f.auto_now, f.auto_now_add = now, now_add


def _copy_table(model: type[models.Model], source: str) -> int:
    with _stored_times_kept(model):
        return _copy_rows(model, source)


def _copy_rows(model: type[models.Model], source: str) -> int:
    manager = model._default_manager.using(TARGET_ALIAS)
    batch: list[models.Model] = []
    n = 0
    for row in _rows(model, source):
        batch.append(model(**row))
        if len(batch) >= CHUNK:
            manager.bulk_create(batch)
            n += len(batch)
            batch = []
    if batch:
        manager.bulk_create(batch)
        n += len(batch)
    return n


def _reset_sequences(chosen: list[type[models.Model]]) -> None:
    target = connections[TARGET_ALIAS]
    statements = target.ops.sequence_reset_sql(no_style(), chosen)
    if statements:
        with target.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


def _verify(chosen: list[type[models.Model]], source: str, report: CopyReport) -> None:
    problems = []
    for model in chosen:
        label = _label(model)
        n_src = model._default_manager.using(source).count()
        n_dst = model._default_manager.using(TARGET_ALIAS).count()
        if n_src != n_dst:
            problems.append(f"{label}: {n_src} rows in the source, {n_dst} copied")
            continue
        table = TableReport(label, n_dst)
        fields = CHECKSUMMED.get(label)
        if fields:
            table.checksum = checksum(model, source, fields)
            if checksum(model, TARGET_ALIAS, fields) != table.checksum:
                problems.append(f"{label}: the stored {', '.join(fields)} differ after the copy")
        report.tables.append(table)
    if problems:
        raise CopyRefused("The copy did not verify, nothing was kept: " + "; ".join(problems))
