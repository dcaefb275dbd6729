"""`python3 manage.py up` — the whole product on one machine, with a demo to try.

Migrates the database, creates an administrator (password generated once and printed), seeds a
demo target/scenario/profile/plan, then starts and supervises five programs: the demo target (a
server with a known bottleneck), a Celery worker (the runs), a Celery worker on the generator
queue (one process per core: the load generators of distributed runs), Celery beat (the reaper
and scheduled plans) and the web server (gunicorn). A program that exits is restarted with a
backoff, and nothing any of them starts outlives it (``runs.core.supervisor``, ``runs.core.lifetime``).
Ctrl-C stops everything. With the defaults everything is embedded: SQLite in ./var and a
filesystem broker, no Redis or PostgreSQL needed.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from runs.core.supervisor import Program, Supervisor
from runs.services.demo import demo_seed, demo_team
from scaletest_site.staticfiles import static_collect


class Command(BaseCommand):
    help = "Start ScaleTest (web + worker + demo target) on this machine."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("SCALETEST_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("SCALETEST_PORT", "8000")))
        parser.add_argument(
            "--demo-port", type=int, default=int(os.environ.get("SCALETEST_DEMO_PORT", "8089"))
        )
        parser.add_argument("--workers", type=int, default=2, help="Concurrent runs the worker takes.")
        parser.add_argument(
            "--generators",
            type=int,
            default=_cores(),
            help="Generator processes for distributed runs (default: one per core; 0: none).",
        )
        parser.add_argument("--no-demo", action="store_true", help="Do not start the demo target.")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["generators"] < 0:
            raise CommandError("--generators must be 0 or more.")
        call_command("migrate", interactive=False, verbosity=0)
        username, password = self._admin()
        demo_url = f"http://127.0.0.1:{opts['demo_port']}"
        # The administrator works in the demo team; more teams and members: /teams/ or the admin.
        team = demo_team(admin=get_user_model().objects.get(username=username))
        if not opts["no_demo"]:
            demo_seed(base_url=demo_url, team=team)
        call_command("reap_runs", verbosity=0)
        static_collect(
            log=self.stdout.write
        )  # hashed and compressed for the web server; skipped when current

        python = sys.executable
        base = str(settings.BASE_DIR)
        data = Path(settings.DATA_DIR)
        # The default allowlist (settings.SCALETEST_ALLOWLIST) opens the demo target's port only;
        # web and worker must know which port that is when --demo-port moves it.
        env = dict(os.environ, SCALETEST_NO_BOOTSTRAP="1", PYTHONUNBUFFERED="1")
        env["SCALETEST_DEMO_PORT"] = str(opts["demo_port"])
        celery = [python, "-m", "celery", "-A", "scaletest_site"]
        programs: list[Program] = []
        if not opts["no_demo"]:
            programs.append(
                Program("demo target", [python, "manage.py", "demo_target", "--port", str(opts["demo_port"])])
            )
        programs += [
            # No embedded beat (worker -B): beat is a program of its own, so `up` restarts it like
            # the others and it can never run twice (README, "Architecture").
            Program(
                "worker",
                [
                    *celery,
                    "worker",
                    "-Q",
                    settings.CELERY_TASK_DEFAULT_QUEUE,
                    "-c",
                    str(opts["workers"]),
                    "-l",
                    "info",
                ],
            ),
            *_generator_programs(celery, opts["generators"]),
            Program("beat", [*celery, "beat", "-l", "info", "-s", str(data / "celerybeat-schedule")]),
            Program(
                "web",
                [
                    python,
                    "-m",
                    "gunicorn",
                    "scaletest_site.wsgi",
                    "--config",
                    "python:scaletest_site.gunicorn_conf",
                    "-b",
                    f"{opts['host']}:{opts['port']}",
                    "-w",
                    "2",
                    "--threads",
                    "4",
                    "--access-logfile",
                    "-",
                    "--graceful-timeout",
                    "5",
                    # gunicornc's socket, under the data dir like the rest of the runtime state.
                    "--control-socket",
                    str(data / "gunicorn.ctl"),
                ],
            ),
        ]
        for program in programs:
            program.cwd, program.env = base, env
        supervisor = Supervisor(programs, log=self._log)
        supervisor.install_signal_handlers()
        supervisor.start_all()
        host = "127.0.0.1" if opts["host"] in ("0.0.0.0", "::") else opts["host"]
        self.stdout.write(
            self.style.SUCCESS(
                "\nScaleTest is up.\n"
                f"  Open      http://{host}:{opts['port']}/\n"
                f"  Log in    {username} / {password}\n"
                + (
                    f"  Demo      plan 'Demo: find the plateau' against {demo_url} "
                    "(8 slots × 50 ms → plateau at 160 req/s)\n"
                    if not opts["no_demo"]
                    else ""
                )
                + f"  Generators {opts['generators']} processes (a plan may use up to that many)\n"
                + f"  Data      {settings.DATABASES['default']['NAME']}\n"
                "  Stop      Ctrl-C\n"
            )
        )
        failure = supervisor.run()
        if failure:
            raise CommandError(f"Stopped because {failure}.")
        self.stdout.write("ScaleTest stopped.")

    def _admin(self) -> tuple[str, str]:
        User = get_user_model()
        username = os.environ.get("SCALETEST_ADMIN_USER", "admin")
        password_file = Path(settings.DATA_DIR) / "admin_password"
        user = User.objects.filter(username=username).first()
        if user is None:
            password = os.environ.get("SCALETEST_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
            User.objects.create_superuser(username=username, email="", password=password)
            password_file.write_text(password)
            password_file.chmod(0o600)
        elif password_file.exists():
            password = password_file.read_text().strip()
        else:
            password = "(unchanged: set earlier; use manage.py changepassword to reset)"
        return username, password

    def _log(self, line: str) -> None:
        self.stdout.write(f"up: {line}")
        self.stdout.flush()


def _cores() -> int:
    """Cores this process may use (its CPU affinity, where the platform says)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _generator_programs(celery: list[str], processes: int) -> list[Program]:
    """One worker on the generator queue only, ``processes`` pool processes: one generator each.

    Its own node name, so remote control (the capacity check before a distributed run starts,
    ``runs.services.generators``) tells it from the run worker. ``--disable-prefetch`` exists for
    Redis only (docs/scaling.md); on one machine with one generator worker nothing else could
    take a prefetched task anyway.
    """
    if processes <= 0:
        return []
    argv = [
        *celery,
        "worker",
        "-Q",
        settings.SCALETEST_GENERATOR_QUEUE,
        "-c",
        str(processes),
        "-n",
        "generators@%h",
        "-l",
        "info",
    ]
    if settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        argv.append("--disable-prefetch")
    return [Program("generators", argv)]
