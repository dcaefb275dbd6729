"""Bring up what the test suite needs on this machine: PostgreSQL, Redis, Chromium, nginx,
Prometheus and node_exporter.

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


def _apt_install(packages: list[str], why: str) -> None:
    """Install Debian packages (as root, or through passwordless sudo), refreshing a missing or
    stale package index once: on a fresh machine the first install fails without it."""
    apt = shutil.which("apt-get")
    if not apt:
        raise SystemExit(f"{why} is missing and apt-get is not available: install {' '.join(packages)}.")
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    command = [*prefix, apt, "-q", "install", "-y", "--no-install-recommends", *packages]
    if not glob.glob("/var/lib/apt/lists/*Packages*"):
        subprocess.run([*prefix, apt, "-q", "update"], check=False, env=env)
    if subprocess.run(command, check=False, env=env).returncode != 0:
        subprocess.run([*prefix, apt, "-q", "update"], check=False, env=env)
        subprocess.run(command, check=True, env=env)


def ensure_chromium() -> str:
    found = chromium_path()
    if found:
        return found
    _apt_install(["chromium"], "Chromium (the browser tests' browser)")
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
    _apt_install(["nginx"], "nginx (the benchmarks' target)")
    found = nginx_path()
    if not found:
        raise SystemExit("Installing nginx did not produce an nginx binary.")
    return f"installed {found}"


PROMETHEUS_BINARIES = ("prometheus", "prometheus-node-exporter")


def prometheus_paths() -> dict[str, str] | None:
    """Debian's Prometheus server and node_exporter binaries, when both are installed."""
    found = {name: shutil.which(name) or f"/usr/bin/{name}" for name in PROMETHEUS_BINARIES}
    if all(os.path.exists(path) for path in found.values()):
        return found
    return None


def ensure_prometheus() -> str:
    """Debian's ``prometheus`` and ``prometheus-node-exporter``: the server-metrics tests start
    their own instances on loopback ports (tests/prometheus_servers.py); only the binaries are
    needed. The packages' own services are not started here (no init system in CI)."""
    found = prometheus_paths()
    if found:
        return ", ".join(found.values())
    _apt_install(list(PROMETHEUS_BINARIES), "Prometheus and node_exporter (the server-metrics tests)")
    found = prometheus_paths()
    if not found:
        raise SystemExit("Installing prometheus did not produce the prometheus and node_exporter binaries.")
    return "installed " + ", ".join(found.values())
