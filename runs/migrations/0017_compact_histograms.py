"""Histograms move from JSON to ``runs.core.histogram``'s compact stored form (bytes).

Every stored row is converted, exactly (same buckets, counts, min, max and sum), on SQLite and
PostgreSQL alike; the reverse converts back. Rows are read and written in batches by primary
key, so memory stays flat whatever the table's size.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import migrations

import runs.models
from runs.core.histogram import Histogram

MODELS = ("runsecond", "endpointsecond", "endpointsummary")
BATCH = 2000


def _convert(apps: Any, schema_editor: Any, *, forward: bool) -> None:
    connection = schema_editor.connection
    quote = connection.ops.quote_name
    # psycopg sends a str as text, which a jsonb column does not take without a cast.
    placeholder = "%s::jsonb" if connection.vendor == "postgresql" and not forward else "%s"
    for name in MODELS:
        table = apps.get_model("runs", name)._meta.db_table
        source, target = ("histogram", "histogram_packed") if forward else ("histogram_packed", "histogram")
        update = f"UPDATE {quote(table)} SET {quote(target)} = {placeholder} WHERE id = %s"
        last = 0
        with connection.cursor() as cursor:
            while True:
                cursor.execute(
                    f"SELECT id, {quote(source)} FROM {quote(table)} WHERE id > %s ORDER BY id LIMIT %s",
                    [last, BATCH],
                )
                rows = cursor.fetchall()
                if not rows:
                    break
                last = rows[-1][0]
                updates: list[tuple[Any, int]] = []
                for pk, value in rows:
                    if forward:
                        data = json.loads(value) if isinstance(value, str) else value
                        updates.append((Histogram.from_dict(data).to_bytes(), pk))
                    else:
                        hist = Histogram.from_bytes(bytes(value) if value is not None else b"")
                        updates.append((json.dumps(hist.to_dict() if hist.total else {}), pk))
                cursor.executemany(update, updates)


def forwards(apps: Any, schema_editor: Any) -> None:
    _convert(apps, schema_editor, forward=True)


def backwards(apps: Any, schema_editor: Any) -> None:
    _convert(apps, schema_editor, forward=False)


class Migration(migrations.Migration):
    dependencies = [
        ("runs", "0016_metric_sources"),
    ]

    operations = [
        *(
            migrations.AddField(
                model_name=name,
                name="histogram_packed",
                field=runs.models.HistogramField(blank=True, default=bytes),
            )
            for name in MODELS
        ),
        migrations.RunPython(forwards, backwards, elidable=False),
        *(migrations.RemoveField(model_name=name, name="histogram") for name in MODELS),
        *(
            migrations.RenameField(model_name=name, old_name="histogram_packed", new_name="histogram")
            for name in MODELS
        ),
    ]
