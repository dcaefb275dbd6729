"""End to end with a real Prometheus: a staircase against the demo target while Prometheus
scrapes the target's /metrics and a real node_exporter; the run's Prometheus sources are asked
with range queries during the run and once more at its end. The stored series are checked
against the target's own counter, the node_exporter preset gives a sane host view, and the
analysis names the demo target's full slots at the knee."""

from __future__ import annotations

from typing import Any

import pytest

from runs.core.demo_target import start_demo_target
from runs.core.metrics.series import NODE_EXPORTER_PROMQL
from runs.engine.runner import run_execute
from runs.models import MetricSource, Run, RunMetricSeries
from runs.services.analysis import run_analyse
from tests.metrics.test_metrics_run import ServedSampler, run_with_sources
from tests.prometheus_servers import node_exporter_url, prometheus_server, wait_for_samples

pytestmark = [
    pytest.mark.slow,
    pytest.mark.first_database_only(
        reason=(
            "reading a real Prometheus; the series it yields are stored through the same path "
            "tests/metrics/test_metrics_run.py checks on both databases"
        )
    ),
]


def test_a_run_reads_its_prometheus_sources_and_names_the_saturated_resource(
    db: None, make_plan: Any
) -> None:
    target = start_demo_target(slots=4, slot_ms=50.0)
    try:
        with prometheus_server([f"{target.url}/metrics", node_exporter_url()], interval_s=0.5) as prom:
            wait_for_samples(prom, 'up{job="job0"} == 1')
            wait_for_samples(prom, 'up{job="job1"} == 1')
            plan = make_plan(
                target.url,
                "/slots",
                profile_kind="staircase",
                params={"start_users": 2, "step_users": 3, "step_duration": 5, "steps": 4},
            )
            MetricSource.objects.create(
                target=plan.target,
                name="demo target",
                kind=MetricSource.Kind.PROMETHEUS,
                url=prom,
                series=[
                    {
                        "name": "slots_busy",
                        "expr": 'sum(demo_slots_busy{job="job0"})',
                        "unit": "slots",
                        "limit": 4,
                    },
                    {
                        "name": "served",
                        "expr": 'sum(demo_requests_served_total{job="job0"})',
                        "unit": "requests",
                    },
                ],
            )
            MetricSource.objects.create(
                target=plan.target,
                order=1,
                name="host",
                kind=MetricSource.Kind.PROMETHEUS,
                url=prom,
                series=[s.to_dict() for s in NODE_EXPORTER_PROMQL],
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
    series = {s.key: s for s in RunMetricSeries.objects.filter(run=run)}
    assert set(series) == {"demo target.slots_busy", "demo target.served"} | {
        f"host.{s.name}" for s in NODE_EXPORTER_PROMQL
    }
    assert all(s.warning == "" for s in series.values()), [s.warning for s in series.values()]

    # Asked again at the end at 1 s steps: a value for every second of the run.
    served = list(series["demo target.served"].points.order_by("t").values_list("t", "value"))
    assert len(served) >= run.last_t
    for t, value in served:
        # Prometheus answers for t0 + t with its last scrape before it (scraped every 0.5 s).
        low, high = sampler.bounds(t0 + t - 1.5, t0 + t + 0.5)
        assert low <= value <= high, (t, value, low, high)
    busy = dict(series["demo target.slots_busy"].points.values_list("t", "value"))
    assert max(busy.values()) == 4 and min(busy.values()) >= 0

    # The node_exporter preset: the host view of this machine, in its units.
    cpu = [v for _, v in series["host.cpu_busy"].points.values_list("t", "value")]
    assert len(cpu) >= run.last_t - 2 and all(0 <= v <= 100 for v in cpu)
    memory = [v for _, v in series["host.memory_used"].points.values_list("t", "value")]
    assert memory and min(memory) > 0
    assert series["host.open_fds"].points.filter(value__gt=0).exists()

    data = run_analyse(run_id=run.pk).data
    knee = data["knee"]
    assert knee["status"] == "knee", knee["headline"]
    assert data["server"]["saturated"][0]["key"] == "demo target.slots_busy"
    assert "the demo target's 4 slots are all busy (" in knee["headline"]
