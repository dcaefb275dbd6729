"""The metrics API: a target's sources (secrets write-only, the page form's checks) and a run's
server series, scoped to the caller's teams."""

from __future__ import annotations

from typing import Any

from runs.models import MetricSource, RunMetricPoint, RunMetricSeries, TestPlan
from tests.api.conftest import ApiClient
from tests.pages.conftest import make_run


def test_sources_are_created_listed_updated_and_deleted_with_secrets_write_only(
    alice_api: ApiClient, carol_api: ApiClient, plan: TestPlan
) -> None:
    base = f"/metrics/targets/{plan.target.pk}/sources"
    body: dict[str, Any] = {
        "name": "host",
        "kind": "prometheus",
        "url": "http://127.0.0.1:9090",
        "preset": "node_exporter",
        "series": [{"name": "pool", "expr": 'sum(app_pool_busy{pool=~"a|b"})', "unit": "conns", "limit": 20}],
        "auth_type": "bearer",
        "auth_token": "s3cret",
    }
    created = alice_api.post(base, body)
    assert created.status_code == 201, created.content
    out = created.json()
    assert out["has_auth_token"] is True and "s3cret" not in created.content.decode()
    assert [s["name"] for s in out["series"]][:2] == ["pool", "cpu_busy"]
    assert out["series"][0]["expr"] == 'sum(app_pool_busy{pool=~"a|b"})'
    assert [s["id"] for s in alice_api.get(base).json()] == [out["id"]]
    # The same checks as the page: a metadata address is refused, nothing is saved.
    refused = alice_api.post(base, {**body, "name": "meta", "url": "http://169.254.169.254/latest"})
    assert refused.status_code == 422 and "link-local" in refused.content.decode()
    assert MetricSource.objects.count() == 1
    # Without a token in the body the saved one is kept.
    updated = alice_api.put(
        f"{base}/{out['id']}", {**body, "auth_token": None, "preset": "", "name": "host2"}
    )
    assert updated.status_code == 200 and updated.json()["name"] == "host2"
    assert MetricSource.objects.get().auth_token == "s3cret"
    # Another team sees nothing.
    assert carol_api.get(base).status_code == 404
    assert carol_api.delete(f"{base}/{out['id']}").status_code == 404
    assert alice_api.delete(f"{base}/{out['id']}").status_code == 204
    assert not MetricSource.objects.exists()


def test_a_runs_server_series_come_with_their_points_and_warnings(
    alice_api: ApiClient, carol_api: ApiClient, plan: TestPlan
) -> None:
    MetricSource.objects.create(target=plan.target, name="demo", url="http://127.0.0.1:1/metrics", series=[])
    run = make_run(plan)
    series = RunMetricSeries.objects.create(
        run=run,
        source="demo",
        kind="scrape",
        name="slots_busy",
        expr="demo_slots_busy",
        unit="slots",
        limit=8,
        warning="1 of 3 reads failed",
    )
    RunMetricPoint.objects.bulk_create(
        [RunMetricPoint(series=series, t=0, value=2), RunMetricPoint(series=series, t=2, value=8)]
    )
    data = alice_api.get(f"/metrics/runs/{run.pk}/series").json()
    assert data["run"] == run.pk
    [row] = data["series"]
    assert (row["source"], row["name"], row["limit"], row["warning"]) == (
        "demo",
        "slots_busy",
        8.0,
        "1 of 3 reads failed",
    )
    assert row["points"] == [[0, 2.0], [2, 8.0]]
    assert carol_api.get(f"/metrics/runs/{run.pk}/series").status_code == 404
