"""`python3 manage.py copy_database --to URL`: move everything to another, empty database."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from runs.services.database_copy import CopyRefused, database_copy


class Command(BaseCommand):
    help = (
        "Copy everything stored in the current database (DATABASE_URL; the embedded SQLite file by "
        "default) into a new, empty database, and verify the copy (row counts, histogram checksums). "
        "Then point DATABASE_URL at the new database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--to",
            required=True,
            metavar="URL",
            help="The database to copy into, e.g. postgres://scaletest@db.example:5432/scaletest. "
            "It must exist and be empty.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = database_copy(target_url=options["to"], log=self.stdout.write)
        except CopyRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Done: {report.rows:,} rows from {report.source} are in {report.target}. "
                "Stop ScaleTest, set DATABASE_URL to the new database and start it again."
            )
        )
