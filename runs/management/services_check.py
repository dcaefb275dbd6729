"""Bring up what the test suite needs on this machine: PostgreSQL, Redis, Chromium, nginx.

Each function returns a one-line status and raises SystemExit with a clear message when the
thing cannot be made available.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _wait_port(host: str, port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _port_open(host, port):
            return True
        time.sleep(0.3)
    return False


def ensure_postgres() -> str:
    if _port_open("127.0.0.1", 5432):
        return "running"
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not versions or not shutil.which("pg_ctlcluster"):
        raise SystemExit("PostgreSQL is not running on 127.0.0.1:5432 and is not installed here.")
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"], check=False)
    if not _wait_port("127.0.0.1", 5432, 30):
        raise SystemExit("PostgreSQL did not come up on 127.0.0.1:5432 within 30 s.")
    return f"started (cluster {versions[-1]}/main)"


def ensure_redis() -> str:
    if _port_open("127.0.0.1", 6379):
        return "running"
    server = shutil.which("redis-server")
    if not server:
        raise SystemExit("Redis is not running on 127.0.0.1:6379 and redis-server is not installed.")
    os.makedirs("/var/lib/redis", exist_ok=True)
    os.makedirs("/var/log/redis", exist_ok=True)
    subprocess.run(
        [
            server,
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "-::1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            "/var/lib/redis",
            "--logfile",
            "/var/log/redis/ci.log",
        ],
        check=False,
    )
    if not _wait_port("127.0.0.1", 6379, 20):
        raise SystemExit("Redis did not come up on 127.0.0.1:6379 within 20 s.")
    return "started"


def chromium_path() -> str | None:
    for candidate in (
        os.environ.get("SCALETEST_CHROMIUM", ""),
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
    ):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def ensure_chromium() -> str:
    found = chromium_path()
    if found:
        return found
    apt = shutil.which("apt-get")
    if not apt:
        raise SystemExit("Chromium is missing and apt-get is not available: install Debian's chromium.")
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # A stale package index makes install fail on a fresh machine: update once, then install.
    if not glob.glob("/var/lib/apt/lists/*Packages*"):
        subprocess.run([*prefix, apt, "-q", "update"], check=False, env=env)
    result = subprocess.run([*prefix, apt, "-q", "install", "-y", "chromium"], check=False, env=env)
    if result.returncode != 0:
        subprocess.run([*prefix, apt, "-q", "update"], check=False, env=env)
        subprocess.run([*prefix, apt, "-q", "install", "-y", "chromium"], check=True, env=env)
    found = chromium_path()
    if not found:
        raise SystemExit("Installing chromium did not produce /usr/bin/chromium.")
    return f"installed {found}"


def nginx_path() -> str | None:
    # /usr/sbin is not on every user's PATH.
    return shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


def ensure_nginx() -> str:
    """nginx is the benchmarks' target (bench/, run at their smoke size by tests/bench). The
    scripts start their own nginx on a loopback port; only the binary is needed. On a machine
    with systemd the Debian package also starts its default site on port 80, which nothing
    here uses (``systemctl disable --now nginx`` if it is unwanted)."""
    found = nginx_path()
    if found:
        return found
    apt = shutil.which("apt-get")
    if not apt:
        raise SystemExit("nginx (the benchmarks' target) is missing and apt-get is not available.")
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if not glob.glob("/var/lib/apt/lists/*Packages*"):
        subprocess.run([*prefix, apt, "-q", "update"], check=False, env=env)
    result = subprocess.run([*prefix, apt, "-q", "install", "-y", "nginx"], check=False, env=env)
    if result.returncode != 0:
        subprocess.run([*prefix, apt, "-q", "update"], check=False, env=env)
        subprocess.run([*prefix, apt, "-q", "install", "-y", "nginx"], check=True, env=env)
    found = nginx_path()
    if not found:
        raise SystemExit("Installing nginx did not produce an nginx binary.")
    return f"installed {found}"
