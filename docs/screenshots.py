"""The README's screenshots, taken from a real demo: `manage.py up` in a data dir of its own
(SQLite, the filesystem broker), the demo plan run twice against the demo target on 127.0.0.1,
then the run page and the comparison of the two runs opened in headless Chromium at 1440 px.

    .venv/bin/python docs/screenshots.py              # writes docs/screenshots/run.png, compare.png
    .venv/bin/python docs/screenshots.py --out /tmp/shots

Takes about three and a half minutes (the demo plan lasts 80 s, run twice, one after the
other). Nothing leaves the machine: the server, the worker and the target all listen on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# How the tests start `up` as a newcomer does: the same environment, without the session's settings.
from tests.embedded import embedded_env, free_port  # noqa: E402

DEMO_PLAN = "Demo: find the plateau"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def wait_for(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise SystemExit(f"timed out waiting for {what}")


def healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def shoot(page: Any, path: Path, *, height: int) -> None:
    """The top of the page, ``height`` px of it (the whole run page would be a poster)."""
    full = page.evaluate("document.documentElement.scrollHeight")
    page.screenshot(
        path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": 1440, "height": min(full, height)}
    )
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def take(base: str, user: str, password: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("SCALETEST_CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_context(viewport={"width": 1440, "height": 900}, device_scale_factor=1).new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", user)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        page.goto(f"{base}/plans/")
        page.click(f"text={DEMO_PLAN}")
        plan_url = page.url
        runs = []
        # One after the other: the demo target's 8 slots are shared, two runs at once would
        # each see half its plateau.
        for n in range(2):
            page.goto(plan_url)
            page.click("#start-run")
            page.wait_for_url(re.compile(r".*/runs/\d+/$"))
            runs.append(int(re.search(r"/runs/(\d+)/", page.url).group(1)))  # type: ignore[union-attr]
            print(f"run {runs[-1]} ({n + 1} of 2) started; about a minute", flush=True)
            page.wait_for_selector("#summary", timeout=180_000)
        page.goto(f"{base}/runs/{runs[0]}/")
        page.wait_for_function(
            "[...document.querySelectorAll('[data-figure]')].every(el => el.querySelector('.main-svg'))"
        )
        page.mouse.move(0, 0)
        shoot(page, out / "run.png", height=1500)
        page.goto(f"{base}/runs/compare/?ids={runs[0]},{runs[1]}")
        page.wait_for_function(
            "[...document.querySelectorAll('[data-figure]')].every(el => el.querySelector('.main-svg'))"
        )
        page.mouse.move(0, 0)
        shoot(page, out / "compare.png", height=1500)
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="scaletest-screenshots-") as data_dir:
        env = embedded_env(Path(data_dir))
        web_port, demo_port = free_port(), free_port()
        log_path = Path(data_dir) / "up.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "manage.py", "up", "--port", str(web_port), "--demo-port", str(demo_port)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        base = f"http://127.0.0.1:{web_port}"
        try:
            banner = wait_for(
                lambda: re.search(r"Log in\s+(\S+) / (\S+)", log_path.read_text(errors="replace")),
                180,
                "`manage.py up` to print its banner",
            )
            wait_for(lambda: healthy(base), 60, "the web server")
            take(base, banner.group(1), banner.group(2), args.out)
        except BaseException:
            print(log_path.read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


if __name__ == "__main__":
    main()
