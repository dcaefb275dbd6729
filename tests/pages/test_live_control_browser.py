"""Live control in Chromium: an editor changes the users of a running run on its live page, sees
the marker on the charts and the timeline, then stops it early and sees it end finished.

Real Celery worker, real Locust child, the local demo target.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from runs.models import Run, RunControl
from runs.services.runs import run_create


def _orm[T](call: Callable[[], T]) -> T:
    """``call`` on another thread: Playwright's sync API runs an event loop on this one, where
    Django refuses database calls."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()


@pytest.fixture
def running(transactional_db: None, live_worker: Any, target_server: str, make_plan: Any, alice: Any) -> Run:
    """A run of 2 constant users for 40 s, started (before the browser, outside its event loop)."""
    plan = make_plan(
        target_server, "/delay", query={"ms": "20"}, params={"users": 2, "duration": 40}, owner=alice
    )
    return run_create(plan=plan, user=alice)


@pytest.mark.slow
@pytest.mark.browser
def test_an_editor_changes_the_users_sees_the_marker_and_stops_early(
    running: Run, live_server: Any, browser_page: Any
) -> None:
    run = running
    page = browser_page
    base = live_server.url
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "alice-password-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/runs/{run.pk}/")
    page.wait_for_function(
        "() => document.getElementById('run-status').dataset.status === 'running'", timeout=60_000
    )
    # The form is labelled and holds the level the run has now.
    assert page.get_attribute("#control-value", "value") == "2"
    assert page.inner_text("label[for=control-value]") == "New user count"

    page.fill("#control-value", "4")
    page.click("#control-form button[type=submit]")
    page.wait_for_url(f"{base}/runs/{run.pk}/")
    assert f"Run #{run.pk} goes to 4 users" in page.inner_text(".messages")
    # Applied by the load generator within a second or two: a marker on every chart, a timeline entry.
    page.wait_for_function(
        """() => ['rps', 'latency', 'users', 'failures'].every((k) => {
          const el = document.getElementById('chart-' + k);
          const shapes = (el && el.layout && el.layout.shapes) || [];
          return shapes.some((s) => String(s.name).startsWith('control-'));
        })""",
        timeout=20_000,
    )
    assert page.locator("#chart-users .annotation-text", has_text="→ 4 users").count() == 1
    page.wait_for_function("() => /Applied/.test(document.getElementById('timeline-list').textContent)")
    assert "→ 4 users" in page.inner_text("#timeline-list")
    page.wait_for_function(
        "() => Number(document.getElementById('p-users').textContent) === 4", timeout=20_000
    )

    # At 390 px the controls fit: no sideways scrolling.
    page.set_viewport_size({"width": 390, "height": 900})
    # (The charts redraw at the new width on the resize event, a moment later.)
    page.wait_for_function("() => document.documentElement.scrollWidth <= 390", timeout=5_000)
    box = page.locator("#live-control").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.is_visible("#stop-early-form button")
    page.set_viewport_size({"width": 1400, "height": 1000})

    page.click("#stop-early-form button")
    page.wait_for_url(f"{base}/runs/{run.pk}/")
    page.wait_for_selector("#summary", timeout=30_000)
    assert re.search(r"Stopped early by alice at \d+ s of 40 s planned", page.inner_text("#run-note"))
    assert page.inner_text("#run-status") == "Finished"
    # The final page keeps the markers: the change and the stop.
    labels = page.evaluate(
        "() => document.getElementById('chart-users').layout.annotations.filter((a) => String(a.name)"
        ".startsWith('control-')).map((a) => a.text)"
    )
    assert labels == ["→ 4 users", "stopped early"]
    assert _orm(lambda: Run.objects.get(pk=run.pk).status) == Run.Status.FINISHED
    states = _orm(lambda: list(RunControl.objects.filter(run=run).values_list("state", flat=True)))
    assert states == ["applied", "applied"]
    assert not errors, errors
