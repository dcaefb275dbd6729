"""Shared helpers for the benchmarks in bench/: machine facts, a pinned nginx target, the
dedicated benchmark database, runs driven through the real parent (runs.engine.runner).

Nothing here is imported by the app or the test suite.
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
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
PY = sys.executable
BENCH_DB = os.environ.get("BENCH_DB", "scaletest_bench")
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
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
        [PY, "-c", "import importlib.metadata as m; print(m.version('locust'))"], capture_output=True, text=True
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
        if not shutil.which("nginx"):
            raise SystemExit("nginx is missing: apt-get install -y nginx (see docs/benchmarks.md)")
        self.dir = Path(tempfile.mkdtemp(prefix="scaletest-bench-nginx-"))
        self.dir.chmod(0o755)  # nginx workers started by root run as nobody
        (self.dir / "www").mkdir()
        (self.dir / "www" / "index.html").write_bytes(b"<!doctype html>" + b"x" * 597)
        self.port = free_port()
        mask = "0" * (os.cpu_count() or 1)
        mask = mask[: len(mask) - 1 - TARGET_CORE] + "1" + mask[len(mask) - TARGET_CORE :]
        (self.dir / "nginx.conf").write_text(NGINX_CONF.format(dir=self.dir, port=self.port, mask=mask))
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(TARGET_CORE), "nginx", "-c", str(self.dir / "nginx.conf"), "-p", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        )
        wait_port(self.port)
        self.url = f"http://127.0.0.1:{self.port}"

    def requests_served(self) -> int:
        """stub_status's handled-requests counter (each call adds one)."""
        text = urllib.request.urlopen(self.url + "/nginx_status", timeout=5).read().decode()
        return int(text.splitlines()[2].split()[2])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


# -- Django against the benchmark database ------------------------------------------------------
def django_setup(*, migrate: bool = True) -> None:
    """Point Django at a database of its own (created if missing) and migrate it."""
    os.environ["DATABASE_URL"] = f"{PG}/{BENCH_DB}"
    os.environ.setdefault("SCALETEST_DATA_DIR", str(Path(tempfile.gettempdir()) / "scaletest-bench-data"))
    os.environ.setdefault("SCALETEST_NO_BOOTSTRAP", "1")
    os.environ.setdefault("DEBUG", "false")
    # Benchmarks load only 127.0.0.1 (nginx and the demo target on ephemeral ports).
    os.environ.setdefault("SCALETEST_ALLOWLIST", "127.0.0.1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scaletest_site.settings")
    Path(os.environ["SCALETEST_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(BASE_DIR))
    os.chdir(BASE_DIR)
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DB,)).fetchone():
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


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
                "name": s.get("name") or s["path"], "method": s.get("method", "GET"), "path": s["path"],
                "query": s.get("query", {}), "headers": {}, "body_type": "none", "body": "",
                "weight": s.get("weight", 1), "expected_statuses": "200-399",
            }
        )
    return {
        "version": 1,
        "plan": {"id": None, "name": "bench", "notes": ""},
        "target": {
            "id": None, "name": "bench target", "base_url": base_url, "headers": {}, "auth_type": "none",
            "auth_username": "", "auth_password": "", "auth_token": "", "verify_tls": True,
            "timeout_seconds": 30.0,
        },
        "scenario": {
            "id": None, "name": "bench", "user_class": user_class, "think_time_min": 0.0,
            "think_time_max": 0.0, "steps": full_steps,
        },
        "profile": {
            "id": None, "name": "bench", "kind": "constant",
            "params": {"users": users, "duration": duration},
            "duration": duration, "peak_users": users,
        },
    }


def bench_team() -> Any:
    """The team benchmark runs belong to (created on first use)."""
    from runs.models import Team

    return Team.objects.filter(name="Benchmarks").order_by("id").first() or Team.objects.create(name="Benchmarks")


def create_running_run(snapshot: dict[str, Any]) -> int:
    """A Run row in ``running`` state, as ``run_claim`` leaves it for ``run_execute``."""
    from django.utils import timezone

    from runs.models import Run

    now = timezone.now()
    run = Run.objects.create(
        team=bench_team(), plan=None, plan_name="bench", snapshot=snapshot, planned_seconds=snapshot["profile"]["duration"],
        status=Run.Status.RUNNING, started_at=now, heartbeat_at=now, generator_host="bench",
    )
    return run.pk
