"""The README's first command: `manage.py up` brings up web, worker and demo target embedded.

Runs the real command in a subprocess on SQLite and the filesystem broker (no PostgreSQL or
Redis settings reach it), logs in with the printed credentials, starts the demo plan, sees
seconds stored by the embedded worker, cancels, and stops everything with Ctrl-C.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_up_serves_the_dashboard_and_runs_the_demo_plan_embedded(tmp_path: Path) -> None:
    web_port, demo_port = _free_port(), _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SCALETEST_QUEUE", "SCALETEST_ALLOWLIST",
                     "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "SCALETEST_TEST_DB_NAME"}
    }
    env.update(SCALETEST_DATA_DIR=str(tmp_path), SCALETEST_NO_BOOTSTRAP="1", PYTHONUNBUFFERED="1")
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "up", "--port", str(web_port), "--demo-port", str(demo_port)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    base = f"http://127.0.0.1:{web_port}"
    try:
        banner = _wait_for(
            lambda: re.search(r"Log in\s+(\S+) / (\S+)", log_path.read_text(errors="replace")), 90, "the banner"
        )
        user, password = banner.group(1), banner.group(2)
        assert f"Open      http://127.0.0.1:{web_port}/" in log_path.read_text()

        def healthy() -> bool:
            try:
                return requests.get(f"{base}/healthz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        _wait_for(healthy, 60, "the web server")
        s = requests.Session()
        s.get(f"{base}/accounts/login/", timeout=10)
        r = s.post(
            f"{base}/accounts/login/",
            data={"username": user, "password": password, "csrfmiddlewaretoken": s.cookies["csrftoken"]},
            headers={"Referer": f"{base}/accounts/login/"},
            timeout=10,
        )
        assert r.status_code == 200 and "Log out" in r.text, "the printed login does not work"
        plans = s.get(f"{base}/plans/", timeout=10).text
        assert "Demo: find the plateau" in plans
        plan_id = re.search(r"/plans/(\d+)/", plans).group(1)
        csrf = {"Referer": base}

        def start_and_cancel() -> tuple[str, dict, dict]:
            r = s.post(
                f"{base}/plans/{plan_id}/start/",
                data={"csrfmiddlewaretoken": s.cookies["csrftoken"]}, headers=csrf, timeout=10,
            )
            run_id = re.search(r"/runs/(\d+)/", r.url).group(1)

            def measured() -> dict | None:
                live = s.get(f"{base}/runs/{run_id}/live.json?after=-1", timeout=10).json()
                return live if live["last_t"] >= 2 and live["total_requests"] > 0 else None

            live = _wait_for(measured, 60, "the embedded worker to store seconds")
            s.post(
                f"{base}/runs/{run_id}/cancel/",
                data={"csrfmiddlewaretoken": s.cookies["csrftoken"]}, headers=csrf, timeout=10,
            )
            final = _wait_for(
                lambda: (j := s.get(f"{base}/runs/{run_id}/live.json", timeout=10).json())["active"] is False and j,
                30,
                "the cancel",
            )
            return run_id, live, final

        run_id_first, _, _ = start_and_cancel()
        run_id, live, final = start_and_cancel()
        assert live["status"] == "running" and live["total_failures"] == 0
        assert final["status"] == "cancelled"
        assert final["total_requests"] >= live["total_requests"]
        # The whole-run summary (merged exact histograms) works on SQLite too.
        page = s.get(f"{base}/runs/{run_id}/", timeout=30).text
        assert "summary could not be computed" not in page
        assert re.search(r"<dt>p95</dt><dd>\d+\.\d ms</dd>", page), "no whole-run p95 on the run page"
        # So does the comparison (stored analyses and verdicts), twice: computed, then stored.
        for _ in range(2):
            compare = s.get(f"{base}/runs/compare/?ids={run_id},{run_id_first}", timeout=60)
            assert compare.status_code == 200, compare.text[-2000:]
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "ScaleTest stopped." in log_path.read_text(), log_path.read_text()[-3000:]
