"""``manage.py demo_target``: serve the demo target (runs/core/demo_target.py) in the foreground."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from runs.core.demo_target import LOOPBACK, DemoServer


class Command(BaseCommand):
    help = "Serve a local HTTP/1.1 target with known behaviour (/delay, /slots, /status, ...) on loopback."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host", default="127.0.0.1", help="Loopback address to bind (default 127.0.0.1)."
        )
        parser.add_argument("--port", type=int, default=8089)
        parser.add_argument(
            "--slots", type=int, default=8, help="Concurrent /slots requests served (default 8)."
        )
        parser.add_argument("--slot-ms", type=float, default=50.0, help="Time a /slots request holds a slot.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["host"] not in LOOPBACK:
            raise CommandError("The demo target binds to loopback only (127.0.0.1, ::1 or localhost).")
        try:
            server = DemoServer(
                (options["host"], options["port"]), slots=options["slots"], slot_ms=options["slot_ms"]
            )
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        host, port = str(server.server_address[0]), server.server_address[1]
        capacity = options["slots"] / (options["slot_ms"] / 1000.0) if options["slot_ms"] else float("inf")
        self.stdout.write(
            f"Demo target on http://{host}:{port}/ — /slots plateaus at {capacity:.0f} req/s. "
            "Ctrl-C stops it."
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
