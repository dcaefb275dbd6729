"""``manage.py reap_runs``: fail running runs whose worker stopped heartbeating."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from runs.engine.reaper import runs_reap_stale


class Command(BaseCommand):
    help = "Mark running runs without a recent heartbeat as failed (worker lost); stored results are kept."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--stale-after",
            type=float,
            default=None,
            help=(
                "Seconds without a heartbeat before a run counts as lost "
                "(default SCALETEST_REAP_AFTER_SECONDS)."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        reaped = runs_reap_stale(stale_after_seconds=options["stale_after"])
        self.stdout.write(f"Marked {len(reaped)} stale run(s) failed" + (f": {reaped}" if reaped else "."))
