"""A distributed run on a fresh `manage.py up`, as a newcomer starts it: the embedded default
(SQLite, the filesystem broker), `up`'s own generator worker, nothing started by hand.

`up --generators 2` is asked for the two generator processes it runs (the plan form shows them,
asked over the filesystem broker's remote control); a plan with 2 generators against the demo
target runs to its end; the demo target's own counter is the yardstick: every request it served
is stored once, and the per-generator totals add up to it. The run page names each generator's
host. A plan asking for 3 is refused at once with the message, and no run is created.

`up` uses its own SQLite whichever database the suite tests, so this runs once, in the first
pass of `manage.py test` (tests/embedded.py).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.embedded import embedded_env, free_port
from tests.proctree import wait_for

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


class Up:
    def __init__(self, data_dir: Path) -> None:
        self.web_port, self.demo_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.web_port}"
        self.log_path = data_dir / "up.log"
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
                    "--generators",
                    "2",
                ],
                cwd=ROOT,
                env=embedded_env(data_dir),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.session = requests.Session()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def healthy(self) -> bool:
        try:
            return requests.get(f"{self.base}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def login(self, user: str, password: str) -> None:
        s = self.session
        s.get(f"{self.base}/accounts/login/", timeout=10)
        r = s.post(
            f"{self.base}/accounts/login/",
            data={"username": user, "password": password, "csrfmiddlewaretoken": s.cookies["csrftoken"]},
            headers={"Referer": f"{self.base}/accounts/login/"},
            timeout=10,
        )
        assert r.status_code == 200 and "Log out" in r.text

    def api(self, method: str, path: str, *, expect: int | None = None, **kwargs: Any) -> Any:
        csrf = {"X-CSRFToken": self.session.cookies.get("csrftoken") or "", "Referer": self.base}
        r = self.session.request(method, f"{self.base}/api/v1{path}", timeout=30, headers=csrf, **kwargs)
        if expect is None:
            assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text[:2000]}"
        else:
            assert r.status_code == expect, f"{method} {path}: {r.status_code} {r.text[:2000]}"
        return r.json() if r.content else None

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def test_a_plan_with_two_generators_runs_on_a_fresh_up_and_three_are_refused_at_start(tmp_path: Path) -> None:
    up = Up(tmp_path)
    try:
        banner = wait_for(lambda: re.search(r"Log in\s+(\S+) / (\S+)", up.log()), 120, "the banner")
        assert "Generators 2 processes" in up.log()
        wait_for(up.healthy, 60, "the web server")
        up.login(banner.group(1), banner.group(2))

        # The plan form shows both generator processes once the generator worker answers.
        def form_shows_two() -> bool:
            page = up.session.get(f"{up.base}/plans/new/", timeout=30).text
            return 'id="generators-available-count">2</strong> of 2 connected' in page

        wait_for(form_shows_two, 90, lambda: f"the plan form to show 2 generators:\n{up.log()[-3000:]}")
        page = up.session.get(f"{up.base}/plans/new/", timeout=30).text
        assert f"generators@{socket.gethostname()}: 2" in page

        [demo] = up.api("GET", "/plans", params={"name": "Demo: find the plateau"})["items"]
        profile = up.api(
            "POST",
            "/profiles",
            json={"name": "8 s", "kind": "constant", "params": {"users": 6, "duration": 8}},
        )

        def plan(name: str, generators: int) -> dict[str, Any]:
            body = {
                "name": name,
                "profile": profile["id"],
                "target": demo["target"],
                "scenario": demo["scenario"],
                "generators": generators,
            }
            return up.api("POST", "/plans", json=body)

        two, three = plan("Two generators", 2), plan("Three generators", 3)

        # Asking for more generators than are connected: refused at once, nothing queued.
        refused = up.api("POST", f"/plans/{three['id']}/runs", expect=409)
        assert re.search(
            r"This plan needs 3 load generators on the queue “scaletest-generators”, but only 2 are "
            rf"connected \(generators@{re.escape(socket.gethostname())}: 2\)\..*No load was sent\.",
            refused["detail"],
        ), refused
        assert up.api("GET", "/runs")["count"] == 0

        # Two: runs to its end on `up`'s own generator worker.
        stats = f"http://127.0.0.1:{up.demo_port}/__stats"
        before = requests.get(stats, timeout=5).json()["total"]
        run = up.api("POST", f"/plans/{two['id']}/runs")
        done = wait_for(
            lambda: not (j := up.api("GET", f"/runs/{run['id']}"))["active"] and j,
            150,
            lambda: f"the distributed run to end:\n{up.log()[-4000:]}",
        )
        served = requests.get(stats, timeout=5).json()["total"] - before
        assert done["status"] == "finished", done
        assert done["generators"] == 2
        assert done["total_requests"] == served > 0, (done["total_requests"], served)
        points = up.api("GET", f"/runs/{run['id']}/generators")["points"]
        per = {g: sum(p["requests"] for p in points if p["generator"] == g) for g in (0, 1)}
        assert sum(per.values()) == served and all(per.values()), per

        # The run page: each generator's share and host.
        html = up.session.get(f"{up.base}/runs/{run['id']}/", timeout=30).text
        for g in (0, 1):
            row = re.search(rf'<tr id="generator-share-{g}">(.*?)</tr>', html, re.S)
            assert row, html[:3000]
            cells = re.findall(r"<td[^>]*>([^<]*)</td>", row.group(1))
            assert cells[:3] == [str(g), socket.gethostname(), str(per[g])], cells

        assert not [line for line in up.log().splitlines() if re.search(r'" 5\d\d \d', line)]
        assert "Traceback" not in up.log(), up.log()[-4000:]
    finally:
        up.stop()
    assert "ScaleTest stopped." in up.log(), up.log()[-3000:]
