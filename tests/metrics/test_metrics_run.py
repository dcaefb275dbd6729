"""Server metrics in a real run: the demo target's own /metrics scraped every second by the run's
parent while a real Locust child loads it, stored per second and checked against the target's
own counters; a source that is down leaves a warning, never a failed run."""

from __future__ import annotations

import html
import socket
import threading
import time
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from runs.core import thresholds
from runs.core.demo_target import start_demo_target
from runs.engine.runner import run_execute
from runs.models import MetricSource, Run, RunMetricSeries
from runs.services.analysis import run_analyse
from runs.services.runs import plan_snapshot, run_claim

pytestmark = pytest.mark.slow


class ServedSampler:
    """The target's own count of answered requests, every 50 ms, with the wall-clock time."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            self.samples.append((time.time(), int(self.target.stats()["served"])))
            self.stop.wait(0.05)

    def bounds(self, lo: float, hi: float) -> tuple[int, int]:
        """The count at or before ``lo`` and at or after ``hi``."""
        low = max((c for w, c in self.samples if w <= lo), default=0)
        high = min((c for w, c in self.samples if w >= hi), default=self.samples[-1][1])
        return low, high


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_with_sources(plan: Any) -> Run:
    snapshot = plan_snapshot(plan=plan)
    run = Run.objects.create(
        team=plan.team,
        plan=plan,
        plan_name=plan.name,
        snapshot=snapshot,
        planned_seconds=snapshot["profile"]["duration"],
    )
    assert run_claim(run_id=run.pk)
    return run


def test_a_run_stores_the_targets_own_metrics_and_names_the_full_slots_at_the_knee(
    db: None, make_plan: Any, alice: Any
) -> None:
    target = start_demo_target(slots=4, slot_ms=50.0)
    try:
        plan = make_plan(
            target.url,
            "/slots",
            profile_kind="staircase",
            params={"start_users": 2, "step_users": 3, "step_duration": 5, "steps": 4},
        )
        plan.thresholds = [
            t.to_dict()
            for t in thresholds.parse_thresholds("server:slots_busy <= 4\nserver:served_rate >= 1000")
        ]
        plan.save()
        MetricSource.objects.create(
            target=plan.target,
            name="demo target",
            url=f"{target.url}/metrics",
            series=[
                {"name": "slots_busy", "expr": "demo_slots_busy", "unit": "slots", "limit": 4},
                {"name": "served", "expr": "demo_requests_served_total", "unit": "requests", "limit": None},
                {"name": "served_rate", "expr": "rate(demo_requests_served_total)", "unit": "req/s"},
            ],
        )
        MetricSource.objects.create(
            target=plan.target,
            order=1,
            name="gone",
            url=f"http://127.0.0.1:{closed_port()}/metrics",
            series=[{"name": "up", "expr": "up", "unit": "", "limit": None}],
        )
        run = run_with_sources(plan)
        sampler = ServedSampler(target)
        try:
            assert run_execute(run_id=run.pk) == Run.Status.FINISHED
        finally:
            sampler.stop.set()
            sampler.thread.join(5)
    finally:
        target.stop()
    run.refresh_from_db()
    assert run.started_at is not None
    t0 = run.started_at.timestamp()
    series = {s.name: s for s in RunMetricSeries.objects.filter(run=run)}
    assert set(series) == {"slots_busy", "served", "served_rate", "up"}

    served = list(series["served"].points.order_by("t").values_list("t", "value"))
    # One value a second, for (nearly) every second of the run.
    assert len(served) >= run.last_t - 1
    assert len({t for t, _ in served}) == len(served)
    for t, value in served:
        # Scraped during second t (the read may end a little later under load).
        low, high = sampler.bounds(t0 + t, t0 + t + 3.0)
        assert low <= value <= high, (t, value, low, high)
    assert [v for _, v in served] == sorted(v for _, v in served)

    busy = dict(series["slots_busy"].points.values_list("t", "value"))
    assert max(busy.values()) == 4  # 5 users and more on 4 slots: all busy
    assert all(0 <= v <= 4 for v in busy.values())
    # The rate agrees with the counter it is taken from.
    rates = dict(series["served_rate"].points.values_list("t", "value"))
    total = dict(served)
    t_last = max(t for t in rates if t - 1 in total and t in total)
    assert rates[t_last] == pytest.approx(total[t_last] - total[t_last - 1], rel=0.35)

    assert not series["up"].points.exists()
    assert "gone" in series["up"].warning and "ConnectionRefusedError" in series["up"].warning
    assert series["served"].warning == ""

    # Thresholds on server series: the pool never exceeds its 4 slots; 1000 req/s is out of reach.
    verdicts = [(r["label"], r["verdict"]) for r in run.threshold_results]
    assert verdicts == [("server:slots_busy <= 4", "passed"), ("server:served_rate >= 1000", "failed")]
    assert run.passed is False

    # The analysis: per-step steady values, the saturated resource named at the knee.
    data = run_analyse(run_id=run.pk).data
    server = data["server"]
    assert [s["users"] for s in server["steps"]] == [2, 5, 8, 11]
    knee = data["knee"]
    assert knee["status"] == "knee", knee["headline"]
    assert knee["knee_users"] == pytest.approx(4, rel=0.2)
    assert [s["key"] for s in server["saturated"]][:1] == ["demo target.slots_busy"]
    assert server["sentence"].startswith(
        f"At ~{round(knee['knee_users'])} users the demo target's 4 slots are all busy ("
    )
    assert knee["headline"].endswith(server["sentence"])
    steady = [step["values"]["demo target.slots_busy"] for step in server["steps"]]
    # 2 users hold at most 2 slots; past the knee the 4 slots are full.
    assert steady[0] <= 2.0 and max(steady[1:]) >= 3.6
    for step, aggregate in zip(server["steps"], data["steps"], strict=True):
        # What the target says it served per second, against what the load generator measured.
        assert step["values"]["demo target.served_rate"] == pytest.approx(
            aggregate["throughput_rps"], rel=0.15
        )
    # The queue-like series track latency; the dead source has no values at all.
    assert "gone.up" not in {t["key"] for t in server["tracking"]}

    # The run page says it, and shows the series per step beside the load.
    client = Client()
    client.force_login(alice)
    page = client.get(reverse("runs-detail", args=[run.pk])).content.decode()
    assert html.escape(server["sentence"]) in page
    assert 'id="server-step-table"' in page and 'id="chart-server-vs-users"' in page
    assert "reads of “gone” failed" in page
