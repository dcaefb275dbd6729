"""`python3 manage.py test [pytest args]` — the whole suite against real PostgreSQL and Redis.

Replaces Django's test runner with pytest (pytest-django). Before running it makes sure the
services the tests talk to are up (PostgreSQL and Redis on 127.0.0.1, started when installed
but stopped) and that Debian's Chromium is installed for the browser tests. `.ci/run` calls
this very command.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from django.core.management.base import BaseCommand

from runs.management.services_check import ensure_chromium, ensure_postgres, ensure_redis


class Command(BaseCommand):
    help = "Run the whole test suite (pytest) after starting PostgreSQL/Redis and installing Chromium."

    def run_from_argv(self, argv: list[str]) -> None:
        # Everything after `test` goes to pytest untouched (-k, -x, paths, ...).
        self.execute(*argv[2:])

    def execute(self, *args: Any, **options: Any) -> None:
        pytest_args = [str(a) for a in args]
        steps = [
            ("PostgreSQL on 127.0.0.1:5432", ensure_postgres),
            ("Redis on 127.0.0.1:6379", ensure_redis),
            ("Chromium for browser tests", ensure_chromium),
        ]
        for label, step in steps:
            message = step()
            print(f"[scaletest test] {label}: {message}", flush=True)
        env = dict(os.environ)
        env.pop("DJANGO_SETTINGS_MODULE", None)  # pyproject.toml names the settings
        cmd = [sys.executable, "-m", "pytest", *pytest_args]
        print(f"[scaletest test] {' '.join(cmd)}", flush=True)
        sys.exit(subprocess.call(cmd, env=env))
