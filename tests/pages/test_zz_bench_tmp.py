import time
import numpy as np
import pytest
from django.urls import reverse
from runs.histogram import Histogram
from runs.models import EndpointSecond, EndpointSummary, RunSecond
from tests.pages.conftest import make_run
from tests.pages.test_analysis_pages import staircase_plan  # noqa

pytestmark = pytest.mark.django_db

def pool(n, per, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        h = Histogram()
        for v in rng.lognormal(np.log(50), 0.4, size=per):
            h.record_ms(float(v))
        out.append((h.to_dict(), h.percentiles_ms((50, 95, 99)), h.mean_ms))
    return out

def test_bench(alice_client, staircase_plan):
    big, small = pool(40, 1000, 1), pool(40, 50, 2)
    ids = []
    t0 = time.perf_counter()
    for r in range(10):
        run = make_run(staircase_plan, last_t=3599, planned_seconds=3600)
        ids.append(run.pk)
        rs, es = [], []
        for t in range(3600):
            d, ps, mean = big[(t + r) % 40]
            rs.append(RunSecond(run=run, t=t, users=10 * (1 + t // 300), requests=1000, failures=0, cpu_percent=30,
                                p50_ms=ps[50], p95_ms=ps[95], p99_ms=ps[99], mean_ms=mean, histogram=d))
            for e in range(20):
                d2, ps2, _ = small[(t + e + r) % 40]
                es.append(EndpointSecond(run=run, t=t, method="GET", name=f"/ep{e}", requests=50, failures=0,
                                         p50_ms=ps2[50], p95_ms=ps2[95], p99_ms=ps2[99], histogram=d2))
        RunSecond.objects.bulk_create(rs, batch_size=2000)
        EndpointSecond.objects.bulk_create(es, batch_size=5000)
        for e in range(20):
            EndpointSummary.objects.create(run=run, method="GET", name=f"/ep{e}", requests=180000, rps=50, p95_ms=80, p99_ms=100)
    print("seed", time.perf_counter() - t0)
    t0 = time.perf_counter()
    resp = alice_client.get(reverse("runs-compare"), {"ids": ",".join(map(str, ids))})
    print("compare", resp.status_code, time.perf_counter() - t0, len(resp.content))
    t0 = time.perf_counter()
    resp = alice_client.get(reverse("runs-detail", args=[ids[0]]))
    print("run page", resp.status_code, time.perf_counter() - t0, len(resp.content))
