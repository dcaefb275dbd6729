"""``manage.py retention``: roll old runs' per-second rows up to 10 s (``runs.services.retention``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from runs.services.retention import retention_apply


class Command(BaseCommand):
    help = (
        "Roll up the per-second rows of ended runs finished more than N days ago into 10-second rows "
        "(exact; pinned runs and plans' baselines are kept whole)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Age in days (default SCALETEST_RETENTION_DAYS; 0 = keep all).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Only say what would be rolled up.")

    def handle(self, *args: Any, **options: Any) -> None:
        days = settings.SCALETEST_RETENTION_DAYS if options["days"] is None else options["days"]
        if days <= 0:
            self.stdout.write("Retention is off (0 days): every run is kept at full resolution.")
            return
        dry = options["dry_run"]
        results = retention_apply(days=days, dry_run=dry)
        for result in results:
            self.stdout.write(("Would roll up " if dry else "Rolled up ") + result.describe())
        verb = "would be" if dry else "were"
        self.stdout.write(f"{len(results)} run(s) older than {days} day(s) {verb} rolled up to 10 s.")
