"""``manage.py pack_runs``: pack ended runs' per-second rows into blocks (``runs.services.packing``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from runs.services.packing import packing_apply, run_pack, run_unpack


class Command(BaseCommand):
    help = (
        "Pack the per-second rows of ended runs finished more than N hours ago into compressed "
        "blocks (exact: every page and export reads the same values)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--hours",
            type=int,
            default=None,
            help="Age in hours (default SCALETEST_PACK_AFTER_HOURS; -1 = never pack).",
        )
        parser.add_argument("--run", type=int, help="Pack this ended run only, whatever its age.")
        parser.add_argument("--unpack", type=int, metavar="RUN", help="Restore this run's per-second rows.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["unpack"] is not None:
            if not run_unpack(run_id=options["unpack"]):
                raise CommandError(f"Run #{options['unpack']} is not packed (or does not exist).")
            self.stdout.write(f"Run #{options['unpack']}: per-second rows restored.")
            return
        if options["run"] is not None:
            result = run_pack(run_id=options["run"])
            if not result.packed:
                raise CommandError(result.describe())
            self.stdout.write(result.describe())
            return
        hours = settings.SCALETEST_PACK_AFTER_HOURS if options["hours"] is None else options["hours"]
        if hours < 0:
            self.stdout.write("Packing is off (-1 hours): per-second rows stay as they are.")
            return
        results = packing_apply(hours=hours)
        for result in results:
            self.stdout.write(result.describe())
        packed = sum(1 for r in results if r.packed)
        self.stdout.write(f"{packed} run(s) ended more than {hours} hour(s) ago were packed.")
