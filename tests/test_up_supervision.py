"""`manage.py up` keeps the product up: a killed program is restarted, and nothing it started lives on.

One real `up` (SQLite, filesystem broker, as tests/test_up.py starts it) goes through a SIGKILL of
each program it supervises in turn: the web master, the demo target, the generator worker, the
Celery worker's main process with a run in flight, and beat. After each kill, every process of
the killed program's tree (recorded before the kill) is gone within seconds, no process carrying
this test's data dir in its environment lives outside `up`'s tree, `up` says what happened and
restarts the program, and the product works again. After the worker kill the run in flight ends
`failed` with its data kept and the next run finishes. Beat's reaper interval is 2 s here
(default 30 s), so counting what beat sends over a few intervals shows there is exactly one
beat. Finally `up` itself is killed with SIGKILL and everything it started dies with it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from runs.core.lifetime import beat_lock_holder
from tests.embedded import embedded_env, free_port
from tests.proctree import alive, describe, kill_all, tree, wait_for, wait_gone, with_env

ROOT = Path(__file__).resolve().parent.parent
REAP_INTERVAL = 2  # SCALETEST_REAP_INTERVAL_SECONDS for this `up`
WINDOW = 12  # seconds over which beat's sends are counted
KILL_SECONDS = 10  # "within a few seconds", generous for a shared 2-core machine

pytestmark = pytest.mark.slow  # `up` runs on its own SQLite: once, in the first pass (tests/embedded.py)


def _is_program(proc: psutil.Process, name: str) -> bool:
    try:
        cmd = " ".join(proc.cmdline())
    except psutil.Error:  # it died since the process table was read (a zombie until `up` reaps it)
        return False
    return {
        "web": "gunicorn" in cmd,
        "worker": "celery" in cmd and " worker" in cmd and "generators@" not in cmd,
        "generators": "celery" in cmd and " worker" in cmd and "generators@" in cmd,
        "beat": "celery" in cmd and " beat" in cmd,
        "demo target": "demo_target" in cmd,
    }[name]


class Up:
    """The running `up` and what the test needs to look at it."""

    def __init__(self, tmp_path: Path) -> None:
        self.data_dir = tmp_path
        self.web_port, self.demo_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.web_port}"
        env = embedded_env(
            tmp_path, SCALETEST_REAP_INTERVAL_SECONDS=str(REAP_INTERVAL), SCALETEST_REAP_AFTER_SECONDS="5"
        )
        self.log_path = tmp_path / "up.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "up",
                    "--port",
                    str(self.web_port),
                    "--demo-port",
                    str(self.demo_port),
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.ps = psutil.Process(self.proc.pid)
        self.session = requests.Session()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def program(self, name: str) -> psutil.Process | None:
        found = [p for p in self.ps.children() if alive(p) and _is_program(p, name)]
        assert len(found) <= 1, f"{len(found)} {name} programs:\n{describe(found)}"
        return found[0] if found else None

    def ours(self) -> list[psutil.Process]:
        """Every live process started for this test's `up`, wherever it is in the process table."""
        return [p for p in with_env("SCALETEST_DATA_DIR", str(self.data_dir)) if p.pid != self.proc.pid]

    def strays(self) -> list[psutil.Process]:
        """Processes of this `up` that are not in its tree any more: orphans."""
        family = {p.pid for p in tree(self.ps)}
        return [p for p in self.ours() if p.pid not in family]

    def healthy(self) -> bool:
        try:
            return requests.get(f"{self.base}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        csrf = {"X-CSRFToken": self.session.cookies.get("csrftoken") or "", "Referer": self.base}
        r = self.session.request(method, f"{self.base}/api/v1{path}", timeout=30, headers=csrf, **kwargs)
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text[:2000]}"
        return r.json() if r.content else None

    def kill_and_check_restart(self, name: str) -> tuple[psutil.Process, list[psutil.Process]]:
        """SIGKILL program ``name``; its whole tree must end, `up` must say so and start a new one."""
        old = wait_for(lambda: self.program(name), 30, f"the {name} to run")
        killed = tree(old)
        mark = len(self.log())
        os.kill(old.pid, signal.SIGKILL)
        wait_gone(killed, KILL_SECONDS, f"every process of the killed {name} to end")
        wait_for(
            lambda: f"up: {name} exited with -9 (SIGKILL); restarting in 1 s" in self.log()[mark:],
            KILL_SECONDS,
            lambda: f"up to report the {name}'s death:\n{self.log()[mark:][-3000:]}",
        )
        new = wait_for(
            lambda: (p := self.program(name)) is not None and p.pid != old.pid and p,
            30,
            f"up to restart the {name}",
        )
        assert alive(self.ps), f"up itself stopped:\n{self.log()[-3000:]}"
        assert not self.strays(), f"orphans after killing the {name}:\n{describe(self.strays())}"
        return new, killed


def test_up_restarts_each_killed_program_and_nothing_it_started_outlives_it(tmp_path: Path) -> None:
    up = Up(tmp_path)
    try:
        banner = wait_for(lambda: re.search(r"Log in\s+(\S+) / (\S+)", up.log()), 90, "the banner")
        wait_for(up.healthy, 60, "the web server")
        s = up.session
        s.get(f"{up.base}/accounts/login/", timeout=10)
        r = s.post(
            f"{up.base}/accounts/login/",
            data={
                "username": banner.group(1),
                "password": banner.group(2),
                "csrfmiddlewaretoken": s.cookies["csrftoken"],
            },
            headers={"Referer": f"{up.base}/accounts/login/"},
            timeout=10,
        )
        assert r.status_code == 200 and "Log out" in r.text
        for name in ("web", "worker", "generators", "beat", "demo target"):
            wait_for(partial(up.program, name), 30, f"the {name} to start")
        assert not up.strays()

        # -- the web master: gunicorn's workers go with it; a new master serves ---------------
        up.kill_and_check_restart("web")
        wait_for(up.healthy, 60, "the restarted web server")
        assert "Log out" in s.get(f"{up.base}/", timeout=10).text

        # -- the demo target ----------------------------------------------------------------------
        up.kill_and_check_restart("demo target")
        stats = f"http://127.0.0.1:{up.demo_port}/__stats"
        wait_for(lambda: _get_ok(stats), 30, "the restarted demo target")

        # -- the generator worker (distributed runs): its pool goes with it ----------------------
        up.kill_and_check_restart("generators")

        # -- the worker's main process, with a run in flight ---------------------------------------
        [demo] = up.api("GET", "/plans", params={"name": "Demo: find the plateau"})["items"]
        run = up.api("POST", f"/plans/{demo['id']}/runs")

        def measured() -> dict[str, Any] | None:
            live = s.get(f"{up.base}/runs/{run['id']}/live.json?after=-1", timeout=10).json()
            return live if live["last_t"] >= 2 and live["total_requests"] > 0 else None

        live = wait_for(measured, 90, "the worker to store seconds of the demo run")
        worker = up.program("worker")
        assert worker is not None
        locust = [p for p in tree(worker) if "runs.core.engine.child" in " ".join(p.cmdline())]
        assert locust, f"no Locust child under the worker:\n{describe(tree(worker))}"
        assert len(tree(worker)) >= 4, describe(tree(worker))  # main, two pool processes, Locust
        _, killed = up.kill_and_check_restart("worker")
        assert set(locust) <= set(killed)
        # The killed run's Locust child sent its last request: the target sees no more load.
        wait_for(lambda: _same_for_a_second(stats), 10, "the target to stop receiving load")

        # The reaper fails the run in flight, keeping every stored second.
        final = wait_for(
            lambda: (j := up.api("GET", f"/runs/{run['id']}"))["status"] != "running" and j, 60, "the reaper"
        )
        assert final["status"] == "failed", final
        assert final["error_message"].startswith("The worker was lost"), final["error_message"]
        assert final["total_requests"] >= live["total_requests"] > 0
        series = up.api("GET", f"/runs/{run['id']}/series")["points"]
        assert [p["t"] for p in series] == list(range(len(series))) and len(series) >= 2
        assert sum(p["requests"] for p in series) == final["total_requests"]

        # The restarted worker runs the next run to its end.
        short = {"name": "4 s", "kind": "constant", "params": {"users": 2, "duration": 4}}
        profile = up.api("POST", "/profiles", json=short)
        plan = up.api(
            "POST",
            "/plans",
            json={
                "name": "After the crash",
                "profile": profile["id"],
                "target": demo["target"],
                "scenario": demo["scenario"],
            },
        )
        after = up.api("POST", f"/plans/{plan['id']}/runs")
        done = wait_for(
            lambda: not (j := up.api("GET", f"/runs/{after['id']}"))["active"] and j, 90, "the next run"
        )
        assert done["status"] == "finished" and done["total_requests"] > 0, done

        # -- beat ------------------------------------------------------------------------------------
        beat, _ = up.kill_and_check_restart("beat")
        mark = len(up.log())  # the killed beat is gone: every send from here on is a live beat's

        # Exactly one beat sends the periodic tasks: counted over a few intervals once the new
        # beat has sent its first, at most one send per interval (two beats would send twice).
        sends = "Sending due task reap-stale-runs"
        wait_for(lambda: sends in up.log()[mark:], 30, "the restarted beat to send the reaper")
        mark = len(up.log())
        time.sleep(WINDOW)
        window = up.log()[mark:]
        sent = window.count(sends)
        ran = len(re.findall(r"Task runs\.tasks\.reap_stale_runs\[[^\]]+\] succeeded", window))
        assert 1 <= sent <= WINDOW // REAP_INTERVAL + 1, f"sent {sent} times in {WINDOW} s:\n{window[-4000:]}"
        assert ran >= 1, window[-4000:]
        # ... and it is the one beat process there is, holding the data dir's beat lock.
        beats = [p for p in up.ours() if _is_program(p, "beat")]
        assert beats == [beat], describe(beats)
        assert beat_lock_holder(tmp_path / "beat.lock") == beat.pid

        # -- `up` itself: whatever kills it, what it started dies with it ---------------------------
        everything = up.ours()
        assert len(everything) >= 8, describe(everything)
        os.kill(up.proc.pid, signal.SIGKILL)
        up.proc.wait(timeout=10)
        wait_gone(everything, KILL_SECONDS, "everything up started to end with it")
        assert not up.ours(), describe(up.ours())
    finally:
        _cleanup(up)


def _get_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _get_json(url: str) -> Any:
    return requests.get(url, timeout=5).json()


def _same_for_a_second(stats: str) -> bool:
    before = _get_json(stats)["total"]
    time.sleep(1.0)
    return bool(_get_json(stats)["total"] == before)


def _cleanup(up: Up) -> None:
    if up.proc.poll() is None:
        os.killpg(up.proc.pid, signal.SIGINT)
        try:
            up.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(up.proc.pid, signal.SIGKILL)
            up.proc.wait()
    kill_all(up.ours())  # never leave anything behind, even when the test failed
