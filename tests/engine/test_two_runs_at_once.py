"""Two runs at once while their live pages poll, as on the embedded default: the web server as
`up` runs it (gunicorn, 2 processes × 4 threads), the real worker taking both runs, each run
aimed at a demo target of its own that counts what it served.

On SQLite every one of these processes writes or reads the one database file; nothing may
answer "database is locked", and no second may be lost. The same holds on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from runs.core.demo_target import DemoTarget, start_demo_target
from runs.models import EndpointSummary, Run, RunSecond
from runs.services.runs import run_create
from runs.services.shares import share_create_run

from ..conftest import BASE_DIR, database_url
from .helpers import wait_for

pytestmark = pytest.mark.slow
LOCK_ERRORS = ("database is locked", "database table is locked", "Traceback", "ERROR")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def web_server(log_path: Path) -> Iterator[str]:
    """gunicorn as `manage.py up` starts it, on the test database; its log goes to ``log_path``."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(connection.settings_dict),
        "SCALETEST_NO_BOOTSTRAP": "1",
        "PYTHONUNBUFFERED": "1",
    }
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "scaletest_site.wsgi",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                "2",
                "--threads",
                "4",
                "--graceful-timeout",
                "5",
            ],
            cwd=str(BASE_DIR),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"

            def answers() -> bool:
                assert proc.poll() is None, log_path.read_text()
                try:
                    with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                        return response.status == 200
                except OSError:
                    return False

            wait_for(answers, timeout=30, interval=0.2, what="gunicorn to answer")
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=15)


@dataclass
class LivePage:
    """What a browser's live page does (static/js/charts.js): poll the live JSON every second
    with ``after`` = the last second it drew, re-fetch the tables every fifth poll, and reload
    into the run page once the run is no longer active."""

    live_url: str
    tables_url: str
    page_url: str
    cookie: str = ""
    after: int = -1
    points: dict[int, int] = field(default_factory=dict)  # t -> requests, as drawn
    answers: list[tuple[str, int]] = field(default_factory=list)  # (url, status) of every request
    final: dict[str, Any] = field(default_factory=dict)

    def get(self, url: str) -> bytes:
        request = urllib.request.Request(url, headers={"Cookie": self.cookie} if self.cookie else {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                self.answers.append((url, response.status))
                return response.read()
        except urllib.error.HTTPError as exc:
            self.answers.append((url, exc.code))
            return b""

    def run(self, deadline: float) -> None:
        ticks = 0
        while time.monotonic() < deadline:
            body = self.get(f"{self.live_url}?after={self.after}")
            if body:
                data = json.loads(body)
                for t, requests in zip(data["points"]["t"], data["points"]["rps"], strict=True):
                    self.points[t] = requests
                if data["points"]["t"]:
                    self.after = data["points"]["t"][-1]
                if not data["active"]:
                    self.final = data
                    self.get(self.page_url)  # the reload into the finished run's page
                    return
            ticks += 1
            if ticks % 5 == 0:
                self.get(self.tables_url)
            time.sleep(1.0)


def test_two_runs_with_their_live_pages_polling_store_every_request_and_meet_no_lock(
    transactional_db: None, live_worker: Any, alice: Any, make_plan: Any, tmp_path: Path
) -> None:
    targets: list[DemoTarget] = [start_demo_target(), start_demo_target()]
    try:
        # The demo's bottleneck endpoint (8 slots × 50 ms), 4 users each: ~80 req/s per run.
        plans = [
            make_plan(t.url, "/slots", params={"users": 4, "duration": 10}, name=f"Side {i}", owner=alice)
            for i, t in enumerate(targets)
        ]
        client = Client()
        client.force_login(alice)
        cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        mark = live_worker.lines
        log_path = tmp_path / "web.log"
        with web_server(log_path) as base:
            runs = [run_create(plan=plan, user=alice) for plan in plans]
            _, token = share_create_run(run=runs[1], user=alice)
            pages = [
                # Alice watches the first run logged in; someone else watches the second by its
                # share link, logged out.
                LivePage(
                    f"{base}/runs/{runs[0].pk}/live.json",
                    f"{base}/runs/{runs[0].pk}/tables/",
                    f"{base}/runs/{runs[0].pk}/",
                    cookie=cookie,
                ),
                LivePage(f"{base}/s/{token}/live.json", f"{base}/s/{token}/tables/", f"{base}/s/{token}/"),
            ]
            deadline = time.monotonic() + 90
            threads = [threading.Thread(target=page.run, args=(deadline,), daemon=True) for page in pages]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(95)
        web_log = log_path.read_text()
        worker_log = "\n".join(live_worker.log_since(mark))

        for run, page, target in zip(runs, pages, targets, strict=True):
            run.refresh_from_db()
            assert run.status == Run.Status.FINISHED, run.error_message
            assert page.final.get("status") == "finished", f"the live page never saw run {run.pk} end"
            # Every request the target served is stored, exactly, and in every second.
            served = int(target.stats()["paths"]["/slots"])
            ts = list(RunSecond.objects.filter(run=run).order_by("t").values_list("t", "requests"))
            assert [t for t, _ in ts] == list(range(len(ts))) and len(ts) >= 10
            assert run.total_requests == sum(n for _, n in ts) == served > 0
            assert EndpointSummary.objects.get(run=run).requests == served
            # The live page drew every stored second once, with the stored counts.
            assert page.points == dict(ts)
            assert page.final["total_requests"] == served
            # The worker stored each second without waiting on a failed write or the reaper.
            assert f"run {run.pk}: storing" not in worker_log
        for page in pages:
            assert [a for a in page.answers if a[1] != 200] == [], page.answers
            assert len(page.answers) >= 10
        for log in (web_log, worker_log):
            assert not [line for line in log.splitlines() if any(e in line for e in LOCK_ERRORS)], log
    finally:
        for target in targets:
            target.stop()
