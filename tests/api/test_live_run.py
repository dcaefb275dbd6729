"""A CI client's path through the API with the real pipeline: start a plan by name, poll its
status and progress, then read the series, endpoints and analysis the worker stored."""

from __future__ import annotations

import time
from typing import Any

import pytest

from .conftest import api_for


@pytest.mark.slow
def test_start_poll_and_read_back_a_real_run(
    transactional_db: None, live_worker: Any, target_server: str, make_plan: Any, alice: Any
) -> None:
    # 6 s: results are stored in 2-s batches, so a poll sees the run running with stored
    # seconds for about 4 s even on a loaded machine (3 s left too short a window).
    make_plan(target_server, "/", params={"users": 2, "duration": 6}, owner=alice, name="API smoke")
    api = api_for(alice)

    started = api.post("/runs", {"plan_name": "API smoke"})
    assert started.status_code == 201, started.content
    run_id = started.json()["id"]
    assert started.json()["status"] == "queued"

    seen_progress = False
    deadline = time.monotonic() + 40
    while True:
        status = api.get(f"/runs/{run_id}").json()
        seen_progress |= status["status"] == "running" and status["progress"]["t"] >= 0
        if not status["active"]:
            break
        assert time.monotonic() < deadline, status
        time.sleep(0.3)
    assert status["status"] == "finished", status["error_message"]
    assert status["total_requests"] > 0 and status["p95_ms"] is not None
    assert seen_progress

    series = api.get(f"/runs/{run_id}/series").json()["points"]
    assert sum(p["requests"] for p in series) == status["total_requests"]
    endpoints = api.get(f"/runs/{run_id}/endpoints").json()
    assert [e["endpoint"] for e in endpoints] == ["GET /"]
    one = api.get(f"/runs/{run_id}/series", endpoint="GET /").json()["points"]
    assert sum(p["requests"] for p in one) == endpoints[0]["requests"] == status["total_requests"]
    analysis = api.get(f"/runs/{run_id}/analysis").json()
    # Six seconds are too short for a steady step; the stored analysis is read back all the same.
    assert analysis["available"] is True and analysis["capacity"]["kind"] == "constant"
    assert "steps" in analysis["capacity"] and "warnings" in analysis["capacity"]
    assert api.post(f"/runs/{run_id}/baseline").status_code == 200
