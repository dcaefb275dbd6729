"""The embedded mode keeps its runtime state in SCALETEST_DATA_DIR: nothing lands in the checkout.

kombu's filesystem transport writes its exchange bindings into a "control folder" on every
broadcast (a worker's start-up hello, a ping, a cancel); by default that is ./control of the
process, the repository when `manage.py up` starts the worker.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def git_status() -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=all"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def embedded_env(tmp_path: Path) -> dict[str, str]:
    """The defaults `manage.py up` runs with: no DATABASE_URL, REDIS_URL or broker URL."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path / "home"),
        "SCALETEST_NO_BOOTSTRAP": "1",
        "SCALETEST_DATA_DIR": str(tmp_path / "data"),
        "PYTHONUNBUFFERED": "1",
    }


@pytest.mark.slow
def test_the_embedded_worker_and_broker_write_nothing_outside_the_data_dir(tmp_path: Path) -> None:
    env = embedded_env(tmp_path)
    data = Path(env["SCALETEST_DATA_DIR"])
    before = git_status()
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert migrate.returncode == 0, migrate.stderr
    node = f"state-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
    log = (tmp_path / "worker.log").open("wb")
    # The worker as `manage.py up` starts it (embedded beat included), from the repository.
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "scaletest_site",
            "worker",
            "-B",
            "-Q",
            "scaletest",
            "-c",
            "1",
            "-l",
            "info",
            "-n",
            node,
            "-s",
            str(data / "celerybeat-schedule"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        # A broadcast and its reply through the filesystem broker: the worker answers a ping.
        deadline = time.monotonic() + 90
        while True:
            ping = subprocess.run(
                [sys.executable, "manage.py", "worker_health", "--node", node, "--timeout", "2"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            if ping.returncode == 0:
                break
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, f"the worker never answered: {ping.stderr}"
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)
        log.close()
    assert ping.stdout.strip() == f"ok: {node}"

    assert git_status() == before
    assert not (ROOT / "control").exists()
    # The broadcast's state went where the rest of the runtime state lives.
    assert (data / "broker" / "control" / "celery.pidbox.exchange").is_file()
    assert (data / "celerybeat-schedule").exists() or list(data.glob("celerybeat-schedule*"))
