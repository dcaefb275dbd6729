"""The newcomer's path, as a test: `manage.py up` on the embedded default, the demo plan run to
the end twice, and what a person then sees in Chromium.

`up` runs as the README says (SQLite, filesystem broker: no PostgreSQL or Redis settings reach
it). The first run is watched live in the browser until it ends: the page must turn into the
finished run's page with its knee, not into an error page. Then the run page's capacity chart,
the comparison of the two runs (charts with points, capacity curves, a verdict), the HTML
report, CSV and JSON downloads and a share link opened logged out. The test fails on any 5xx
in the server's access log, any server traceback, and any console error in the browser.

`up` uses its own SQLite whichever database the suite tests, so this runs once, in the first
pass of `manage.py test` (tests/embedded.py).
"""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import CHROMIUM_ARGS
from tests.embedded import embedded_env, free_port
from tests.proctree import wait_for

ROOT = Path(__file__).resolve().parent.parent
DEMO_PLAN = "Demo: find the plateau"

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@dataclass
class Up:
    proc: subprocess.Popen[bytes]
    log_path: Path
    base: str
    user: str
    password: str

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def server_errors(self) -> list[str]:
        """Access-log lines with a 5xx status, and tracebacks, from everything `up` printed."""
        lines = self.log().splitlines()
        fives = [line for line in lines if re.search(r'" 5\d\d \d', line)]
        tracebacks = [
            line for line in lines if line.startswith("Traceback") or "Internal Server Error" in line
        ]
        return fives + tracebacks

    def session(self) -> requests.Session:
        s = requests.Session()
        s.get(f"{self.base}/accounts/login/", timeout=10)
        r = s.post(
            f"{self.base}/accounts/login/",
            data={
                "username": self.user,
                "password": self.password,
                "csrfmiddlewaretoken": s.cookies["csrftoken"],
            },
            headers={"Referer": f"{self.base}/accounts/login/"},
            timeout=10,
        )
        assert r.status_code == 200 and "Log out" in r.text, "the printed login does not work"
        return s


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    data_dir = tmp_path_factory.mktemp("up")
    web_port, demo_port = free_port(), free_port()
    log_path = data_dir / "up.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "up", "--port", str(web_port), "--demo-port", str(demo_port)],
            cwd=ROOT,
            env=embedded_env(data_dir),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{web_port}"
    try:
        banner = wait_for(
            lambda: re.search(r"Log in\s+(\S+) / (\S+)", log_path.read_text(errors="replace")),
            120,
            "the banner",
        )
        assert f"Open      http://127.0.0.1:{web_port}/" in log_path.read_text()

        def healthy() -> bool:
            try:
                return requests.get(f"{base}/healthz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_for(healthy, 60, "the web server")
        assert banner is not None
        yield Up(proc=proc, log_path=log_path, base=base, user=banner.group(1), password=banner.group(2))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert "ScaleTest stopped." in log_path.read_text(), log_path.read_text()[-3000:]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    from runs.management.services_check import chromium_path

    executable = chromium_path()
    if executable is None:
        pytest.fail("Chromium is not installed: run `python3 manage.py test`, which installs it.")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Tab:
    """A page in its own browser context that records console errors and page errors."""

    def __init__(self, browser: Any, *, base: str, login: tuple[str, str] | None) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=base)
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.errors: list[str] = []
        self.page.on(
            "console",
            lambda m: self.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
        )
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        if login:
            self.page.goto("/accounts/login/")
            self.page.fill("input[name=username]", login[0])
            self.page.fill("input[name=password]", login[1])
            self.page.click("button[type=submit], input[type=submit]")
            self.page.wait_for_selector("text=Log out")

    def open(self, url: str) -> Any:
        response = self.page.goto(url)
        assert response is not None and response.status == 200, (url, response and response.status)
        self.assert_no_template_source()
        return response

    def assert_no_template_source(self) -> None:
        text = self.page.inner_text("body")
        assert not re.search(r"\{%|\{\{|\{#|#\}", text), text[:2000]

    def points(self, chart_id: str) -> int:
        """Data points Plotly computed and drew in the chart (0 if it drew nothing)."""
        self.page.wait_for_selector(f"#{chart_id} .main-svg")
        return self.page.evaluate(
            """(id) => {
                const gd = document.getElementById(id);
                if (!gd || !gd.calcdata) return 0;
                return gd.calcdata.reduce((n, trace) => n + trace.filter(
                    (p) => p && Number.isFinite(p.x) && Number.isFinite(p.y)).length, 0);
            }""",
            chart_id,
        )

    def close(self) -> None:
        self.context.close()


def start_demo(s: requests.Session, base: str) -> int:
    plans = s.get(f"{base}/plans/", timeout=10).text
    assert DEMO_PLAN in plans
    found = re.search(r"/plans/(\d+)/", plans)
    assert found is not None, plans
    plan_id = found.group(1)
    r = s.post(
        f"{base}/plans/{plan_id}/start/",
        data={"csrfmiddlewaretoken": s.cookies["csrftoken"]},
        headers={"Referer": base},
        timeout=10,
    )
    assert r.status_code == 200, r.status_code
    started = re.search(r"/runs/(\d+)/", r.url)
    assert started is not None, r.url
    return int(started.group(1))


def live(s: requests.Session, base: str, run_id: int) -> dict[str, Any]:
    return s.get(f"{base}/runs/{run_id}/live.json?after=-1", timeout=10).json()


def test_a_newcomer_runs_the_demo_twice_and_reads_every_result_page(up: Up, browser: Any) -> None:
    s = up.session()
    me = Tab(browser, base=up.base, login=(up.user, up.password))

    # Run 1, watched live until it ends: the page must become the finished run's page.
    first = start_demo(s, up.base)
    me.open(f"/runs/{first}/")
    wait_for(lambda: live(s, up.base, first)["status"] == "running", 60, "the embedded worker to start run 1")
    me.page.wait_for_selector("#chart-rps .main-svg")
    wait_for(lambda: live(s, up.base, first)["active"] is False, 150, "run 1 to end")
    me.page.wait_for_selector("#knee-users", timeout=60_000)  # the live page reloaded into the summary
    assert live(s, up.base, first)["status"] == "finished"
    me.assert_no_template_source()
    assert re.search(r"\d+ users", me.page.inner_text("#knee-users")), me.page.inner_text("#capacity")
    assert me.points("chart-cap-throughput") >= 5 and me.points("chart-cap-curve") >= 5
    # The knee is marked on the throughput chart (N* lies between the demo's steps).
    traces = me.page.evaluate("document.getElementById('chart-cap-throughput').data.map(t => t.name)")
    assert "knee" in traces, traces
    for chart in ("rps", "latency", "users"):
        assert me.points(f"chart-{chart}") >= 50, chart

    # Run 2, to the end.
    second = start_demo(s, up.base)
    wait_for(lambda: live(s, up.base, second)["active"] is False, 150, "run 2 to end")
    assert live(s, up.base, second)["status"] == "finished"
    me.open(f"/runs/{second}/")
    assert re.search(r"\d+ users", me.page.inner_text("#knee-users"))
    p95 = me.page.inner_text("#summary")
    assert re.search(r"(?i)p95\s+\d+\.\d ms", p95), p95

    # The comparison of the two runs: every chart drawn with points, capacity curves included,
    # and a verdict. Twice: computed, then read back stored.
    for _ in range(2):
        me.open(f"/runs/compare/?ids={first},{second}")
        for chart in ("chart-cmp-rps", "chart-cmp-p95", "chart-cmp-capacity"):
            assert me.points(chart) >= 5, chart
        verdicts = me.page.locator(".overall-verdict .verdict").all_inner_texts()
        assert verdicts and all(v.strip() for v in verdicts), verdicts

    # Downloads.
    report = s.get(f"{up.base}/runs/{second}/report.html", timeout=60)
    assert report.status_code == 200 and "attachment" in report.headers["Content-Disposition"]
    assert "plotly" in report.text.lower() and "knee" in report.text.lower()
    rows = list(csv.reader(io.StringIO(s.get(f"{up.base}/runs/{second}/export.csv", timeout=60).text)))
    assert len(rows) > 50 and "t" in rows[0]
    exported = s.get(f"{up.base}/runs/{second}/export.json", timeout=60).json()
    assert exported["run"]["id"] == second and exported["analysis"]["data"]["knee"]["knee_users"] is not None

    # A share link, made on the run page as a person does, opened logged out.
    me.open(f"/runs/{second}/")
    me.page.click("#share-create summary")
    me.page.fill("#share-form input[name=label]", "for the team")
    me.page.click("#share-form button[type=submit]")
    link = me.page.input_value("#share-url")
    assert "/s/" in link
    outsider = Tab(browser, base=up.base, login=None)
    outsider.open(link)
    assert outsider.points("chart-rps") >= 50 and outsider.points("chart-cap-throughput") >= 5
    assert "Log out" not in outsider.page.inner_text("body")

    assert not me.errors and not outsider.errors, me.errors + outsider.errors
    me.close()
    outsider.close()
    assert not up.server_errors(), "\n".join(up.server_errors())


def test_the_printed_login_and_a_cancel_work(up: Up) -> None:
    """A cancelled run keeps what it measured, and its page and comparison answer."""
    s = up.session()
    run_id = start_demo(s, up.base)
    measured = wait_for(
        lambda: (j := live(s, up.base, run_id))["last_t"] >= 2 and j["total_requests"] > 0 and j,
        60,
        "the embedded worker to store seconds",
    )
    s.post(
        f"{up.base}/runs/{run_id}/cancel/",
        data={"csrfmiddlewaretoken": s.cookies["csrftoken"]},
        headers={"Referer": up.base},
        timeout=10,
    )
    final = wait_for(
        lambda: j if (j := live(s, up.base, run_id))["active"] is False else None, 30, "the cancel"
    )
    assert final["status"] == "cancelled" and final["total_requests"] >= measured["total_requests"]
    page = s.get(f"{up.base}/runs/{run_id}/", timeout=30)
    assert page.status_code == 200 and re.search(r"<dt>p95</dt><dd>\d+\.\d ms</dd>", page.text)
    assert not up.server_errors(), "\n".join(up.server_errors())
