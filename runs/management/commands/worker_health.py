"""`manage.py worker_health` — exit 0 when a Celery worker answers a ping, 1 otherwise.

The compose worker healthcheck runs it with `--local`, which pings only the worker on this
container's host name: with `--scale worker=N` a sibling's answer must not keep a dead worker
marked healthy. The ping is a broadcast through the broker, so it also proves the worker still
holds its broker connection.
"""

from __future__ import annotations

import socket
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from scaletest_site.celery import app


class Command(BaseCommand):
    help = "Exit 0 when a Celery worker answers a ping, non-zero otherwise (container healthcheck)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--timeout", type=float, default=5.0, help="Seconds to wait for replies.")
        target = parser.add_mutually_exclusive_group()
        target.add_argument(
            "--local",
            action="store_true",
            help="Ping only celery@<this host name> (the default node name of a worker here).",
        )
        target.add_argument("--node", help="Ping only this node, e.g. celery@worker-1.")

    def handle(self, *args: Any, **opts: Any) -> None:
        node = opts["node"] or (f"celery@{socket.gethostname()}" if opts["local"] else None)
        destination = [node] if node else None
        try:
            replies = app.control.ping(destination=destination, timeout=opts["timeout"])
        except Exception as exc:  # broker down, refused, auth: all mean "not healthy"
            raise CommandError(f"worker ping failed: {type(exc).__name__}") from exc
        answered = sorted(name for reply in replies for name in reply)
        if node:
            answered = [name for name in answered if name == node]
        if not answered:
            raise CommandError(f"no worker answered within {opts['timeout']}s ({node or 'any node'})")
        self.stdout.write(f"ok: {', '.join(answered)}")
