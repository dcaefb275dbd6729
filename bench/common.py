"""Shared helpers for the benchmarks in bench/: machine facts, a pinned nginx target, the
dedicated benchmark database (PostgreSQL or SQLite, ``--db``), the team and admin that own the
benchmark runs, runs driven through the real parent (runs.engine.runner), and the sizes every
script offers (``--smoke``, ``--quick``, full).

Nothing here is imported by the app. tests/bench/test_smoke.py runs every script with
``--smoke``; it reads a script's ``--db`` choices from its ``--help``, so a script that uses a
database declares the ones it supports with :func:`add_db_argument`.
"""

from __future__ import annotations

import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
PY = sys.executable
BENCH_DB = os.environ.get("BENCH_DB", "scaletest_bench")
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DATABASES = ("postgres", "sqlite")
# Why the load benchmarks offer only PostgreSQL: their figures are the generators' (req/s, CPU),
# measured while the parent ingests as it does on a team's server.
LOAD_DB_WHY = (
    "the runs ingest into PostgreSQL as on a team's server; "
    "the figures are the generators', not the database's"
)
BENCH_USERNAME = "bench"
LOAD_CORE = int(os.environ.get("BENCH_LOAD_CORE", "0"))
TARGET_CORE = int(os.environ.get("BENCH_TARGET_CORE", "1"))


# -- machine -----------------------------------------------------------------------------------
def machine() -> dict[str, str]:
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    locust_version = subprocess.run(
        [PY, "-c", "import importlib.metadata as m; print(m.version('locust'))"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    import django

    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "locust": locust_version,
        "django": django.get_version(),
        "load_core": str(LOAD_CORE),
        "target_core": str(TARGET_CORE),
        "loadavg_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def print_machine() -> None:
    print("machine: " + ", ".join(f"{k}={v}" for k, v in machine().items()))


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


# -- nginx: a target that is not the bottleneck -------------------------------------------------
NGINX_CONF = """
worker_processes 1;
worker_cpu_affinity {mask};
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    server {{
        listen 127.0.0.1:{port} backlog=1024;
        location = /nginx_status {{ stub_status; }}
        location / {{ root {dir}/www; }}
    }}
}}
"""


class Nginx:
    """nginx 1 worker on TARGET_CORE, serving a small static file (``/index.html``, 612 bytes)."""

    def __init__(self) -> None:
        # /usr/sbin is not on every user's PATH.
        binary = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
        if binary is None:
            raise SystemExit(
                "nginx is missing: apt-get install -y nginx (bench/README.md; manage.py test installs it)"
            )
        self.dir = Path(tempfile.mkdtemp(prefix="scaletest-bench-nginx-"))
        self.dir.chmod(0o755)  # nginx workers started by root run as nobody
        (self.dir / "www").mkdir()
        (self.dir / "www" / "index.html").write_bytes(b"<!doctype html>" + b"x" * 597)
        self.port = free_port()
        mask = "0" * (os.cpu_count() or 1)
        mask = mask[: len(mask) - 1 - TARGET_CORE] + "1" + mask[len(mask) - TARGET_CORE :]
        (self.dir / "nginx.conf").write_text(NGINX_CONF.format(dir=self.dir, port=self.port, mask=mask))
        self.proc = subprocess.Popen(
            [
                "taskset",
                "-c",
                str(TARGET_CORE),
                binary,
                "-c",
                str(self.dir / "nginx.conf"),
                "-p",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        wait_port(self.port)
        self.url = f"http://127.0.0.1:{self.port}"

    def requests_served(self) -> int:
        """stub_status's handled-requests counter (each call adds one)."""
        text = urllib.request.urlopen(self.url + "/nginx_status", timeout=5).read().decode()
        return int(text.splitlines()[2].split()[2])

    def wait_for_load(self, *, requests: int = 50, timeout: float = 30.0) -> None:
        """Return once ``requests`` requests other than these status polls have been served.

        The polls count in nginx's counter too (20 a second): without taking them out, they
        alone passed the bar after 2.5 s, before a slow-starting generator sent anything, and
        the steady window began during the start-up."""
        base = self.requests_served()
        polls = 0
        deadline = time.monotonic() + timeout
        while True:
            served = self.requests_served()
            polls += 1
            if served - base - polls >= requests:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"no load reached nginx within {timeout:.0f} s")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


# -- sizes and databases -----------------------------------------------------------------------
def add_size_arguments(ap: ArgumentParser, *, smoke: str, quick: str | None = None) -> None:
    """``--smoke`` (seconds: every step of the script, tiny sizes; what the test suite runs)
    and, where the script has one, ``--quick`` (a smaller grid of the real measurement)."""
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--smoke", action="store_true", help=f"smoke size, seconds: {smoke}")
    if quick is not None:
        group.add_argument("--quick", action="store_true", help=f"quick size: {quick}")


def add_db_argument(ap: ArgumentParser, *, choices: tuple[str, ...] = DATABASES, why: str = "") -> None:
    """``--db``: the database the script writes its runs to and reads them from.

    PostgreSQL is database BENCH_DB (default ``scaletest_bench``) on BENCH_PG; SQLite is the
    file BENCH_SQLITE (default ``var/bench/<BENCH_DB>.sqlite3``), configured as the embedded
    default configures it (WAL, immediate transactions). ``why`` says why a script offers
    only some of them; tests/bench/test_smoke.py shows it when it skips a database.
    """
    text = f"database (default {choices[0]}): {', '.join(choices)}"
    ap.add_argument("--db", choices=choices, default=choices[0], help=text + (f"; {why}" if why else ""))


def sqlite_path() -> Path:
    return Path(os.environ.get("BENCH_SQLITE") or BASE_DIR / "var" / "bench" / f"{BENCH_DB}.sqlite3")


def database_url(db: str) -> str:
    if db == "sqlite":
        return f"sqlite:///{sqlite_path()}"
    if db == "postgres":
        return f"{PG}/{BENCH_DB}"
    raise SystemExit(f"--db must be one of {', '.join(DATABASES)}, not {db!r}")


def ensure_database(db: str) -> None:
    """Create the benchmark database if it is missing (SQLite: its folder)."""
    if db == "sqlite":
        sqlite_path().parent.mkdir(parents=True, exist_ok=True)
        return
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DB,)).fetchone():
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def drop_database(db: str) -> None:
    """Drop the benchmark database (SQLite: delete its file and WAL)."""
    from django.db import connections

    connections.close_all()
    if db == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{sqlite_path()}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


# -- Django against the benchmark database ------------------------------------------------------
def django_setup(*, db: str = "postgres", migrate: bool = True) -> None:
    """Point Django at a database of its own (created if missing) and migrate it."""
    os.environ["DATABASE_URL"] = database_url(db)
    os.environ.setdefault("SCALETEST_DATA_DIR", str(Path(tempfile.gettempdir()) / "scaletest-bench-data"))
    os.environ.setdefault("SCALETEST_NO_BOOTSTRAP", "1")
    # The pages link content-hashed static files: the collection `up` and the tests share.
    os.environ.setdefault("SCALETEST_STATIC_ROOT", str(BASE_DIR / "var" / "static"))
    os.environ.setdefault("DEBUG", "false")
    # Benchmarks load only 127.0.0.1 (nginx and the demo target on ephemeral ports).
    os.environ.setdefault("SCALETEST_ALLOWLIST", "127.0.0.1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scaletest_site.settings")
    Path(os.environ["SCALETEST_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(BASE_DIR))
    os.chdir(BASE_DIR)
    import fcntl

    import django

    # Two scripts started together on a fresh database (the smoke tests run two at a time)
    # must not both create it or its tables: the second waits, then finds nothing to do.
    lock = Path(tempfile.gettempdir()) / f"scaletest-bench-setup-{db}-{BENCH_DB}.lock"
    with open(lock, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        ensure_database(db)
        django.setup()
        if migrate:
            from django.core.management import call_command

            call_command("migrate", verbosity=0, interactive=False)
    # A fresh clone has no collection yet; a page rendered without one fails on its first
    # {% static %} ("Missing staticfiles manifest entry").
    from scaletest_site.staticfiles import static_collect

    static_collect()


def db_vendor() -> str:
    from django.db import connection

    return str(connection.vendor)  # "postgresql" or "sqlite"


def make_snapshot(
    base_url: str,
    steps: list[dict[str, Any]],
    *,
    users: int,
    duration: int,
    user_class: str = "fast",
) -> dict[str, Any]:
    """A run snapshot as runs.services.runs.plan_snapshot builds it."""
    full_steps = []
    for s in steps:
        full_steps.append(
            {
                "name": s.get("name") or s["path"],
                "method": s.get("method", "GET"),
                "path": s["path"],
                "query": s.get("query", {}),
                "headers": {},
                "body_type": "none",
                "body": "",
                "weight": s.get("weight", 1),
                "expected_statuses": "200-399",
            }
        )
    return {
        "version": 1,
        "plan": {"id": None, "name": "bench", "notes": ""},
        "target": {
            "id": None,
            "name": "bench target",
            "base_url": base_url,
            "headers": {},
            "auth_type": "none",
            "auth_username": "",
            "auth_password": "",
            "auth_token": "",
            "verify_tls": True,
            "timeout_seconds": 30.0,
        },
        "scenario": {
            "id": None,
            "name": "bench",
            "user_class": user_class,
            "think_time_min": 0.0,
            "think_time_max": 0.0,
            "steps": full_steps,
        },
        "profile": {
            "id": None,
            "name": "bench",
            "kind": "constant",
            "params": {"users": users, "duration": duration},
            "duration": duration,
            "peak_users": users,
        },
    }


def bench_team() -> Any:
    """The team benchmark runs belong to (created on first use)."""
    from runs.models import Team

    return Team.objects.filter(name="Benchmarks").order_by("id").first() or Team.objects.create(
        name="Benchmarks"
    )


def bench_user() -> Any:
    """The account the page benchmarks browse as: admin of the benchmark team.

    Runs belong to teams and a user in none is sent to "create a team" (302), so the user
    must be a member of the team that owns the seeded runs.
    """
    from django.contrib.auth import get_user_model

    from runs.models import Membership

    user, _ = get_user_model().objects.get_or_create(username=BENCH_USERNAME)
    Membership.objects.update_or_create(
        team=bench_team(), user=user, defaults={"role": Membership.Role.ADMIN}
    )
    return user


def bench_client() -> Any:
    """A Django test client logged in as :func:`bench_user` (host 127.0.0.1)."""
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(bench_user())
    return client


def get_ok(client: Any, path: str) -> Any:
    """GET ``path``; anything but 200 stops the benchmark with what came back instead."""
    response = client.get(path)
    if response.status_code != 200:
        where = response.headers.get("Location", "")
        raise SystemExit(
            f"GET {path} answered {response.status_code}{' -> ' + where if where else ''}, not 200"
        )
    return response


def create_running_run(snapshot: dict[str, Any]) -> int:
    """A Run row in ``running`` state, as ``run_claim`` leaves it for ``run_execute``."""
    from django.utils import timezone

    from runs.models import Run

    now = timezone.now()
    run = Run.objects.create(
        team=bench_team(),
        plan=None,
        plan_name="bench",
        snapshot=snapshot,
        planned_seconds=snapshot["profile"]["duration"],
        status=Run.Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        generator_host="bench",
    )
    return run.pk
