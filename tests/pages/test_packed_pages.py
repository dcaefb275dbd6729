"""A packed run (its per-second rows stored as blocks, ``runs.services.packing``) looks the same
to a person: its run page and a comparison with an unpacked run, in Chromium, draw the values
its rows held before packing."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from runs.models import PackedSeconds, Run, RunSecond
from runs.services.analysis import run_analyses_ensure
from runs.services.packing import run_pack
from tests.pages.test_analysis_pages import LEVELS, make_staircase_plan, seed_run
from tests.pages.test_capacity_pages import log_in

CSRF = re.compile(rb'(csrfmiddlewaretoken" value=)"[^"]*"')


def unmasked(page: bytes) -> bytes:
    """A page without its CSRF token, which is masked anew on every response."""
    return CSRF.sub(rb"\1", page)


@pytest.fixture
def packed_and_not(
    transactional_db: None, alice: Any
) -> tuple[Run, Run, list[tuple[int, int, float | None]]]:
    """Two analysed staircase runs of one plan, the first packed, with the first's per-second
    (t, requests, p95) read before packing. Made before the browser starts."""
    plan = make_staircase_plan(alice)
    packed = seed_run(plan, seed=5)
    other = seed_run(plan, seed=6, latency_factor=1.2)
    run_analyses_ensure(ids=[packed.pk, other.pk])
    rows = list(RunSecond.objects.filter(run=packed).order_by("t").values_list("t", "requests", "p95_ms"))
    assert run_pack(run_id=packed.pk).packed
    assert not RunSecond.objects.filter(run=packed).exists()
    assert PackedSeconds.objects.filter(run=packed).exists()
    packed.refresh_from_db()
    return packed, other, rows


@pytest.mark.django_db
def test_a_runs_page_and_a_comparison_are_the_same_html_packed_or_not(alice: Any) -> None:
    plan = make_staircase_plan(alice)
    a = seed_run(plan, seed=7)
    b = seed_run(plan, seed=8, latency_factor=1.2)
    run_analyses_ensure(ids=[a.pk, b.pk])
    client = Client()
    client.force_login(alice)
    paths = [
        a.get_absolute_url(),
        f"/runs/compare/?ids={a.pk},{b.pk}",
        f"/runs/{a.pk}/export.csv",
        f"/api/v1/runs/{a.pk}/series?from=40&to=70",
    ]

    def bodies() -> list[bytes]:
        responses = [client.get(path) for path in paths]
        assert [r.status_code for r in responses] == [200] * len(paths)
        # A streamed export is read now, while its rows are where the response found them.
        return [unmasked(r.getvalue()) for r in responses]

    before = bodies()
    assert run_pack(run_id=a.pk).packed
    after = bodies()
    for path, old, new in zip(paths, before, after, strict=True):
        assert new == old, path
    assert len(json.loads(after[3])["points"]) == 31  # seconds 40..70, not an empty series
    assert after[2].count(b"\r\n") > a.last_t  # a CSV line per second at least


@pytest.mark.browser
def test_a_packed_runs_page_and_its_comparison_draw_the_rows_it_held(
    live_server: Any,
    packed_and_not: tuple[Run, Run, list[tuple[int, int, float | None]]],
    browser_page: Any,
) -> None:
    packed, other, rows = packed_and_not
    page = browser_page
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    base = live_server.url
    log_in(page, base)

    page.goto(f"{base}/runs/{packed.pk}/")
    page.wait_for_function("() => document.getElementById('chart-rps').data !== undefined")
    xs, ys = page.evaluate(
        "(() => { const d = document.getElementById('chart-rps').data[0]; return [d.x, d.y]; })()"
    )
    assert xs == [t for t, _, _ in rows]
    assert ys == [float(n) for _, n, _ in rows]
    p95 = page.evaluate("document.getElementById('chart-latency').data.filter(t => t.name === 'p95')[0].y")
    assert p95 == [None if v is None else round(v, 3) for _, _, v in rows]  # the chart keeps 3 decimals
    assert page.locator("#chart-rps .scatterlayer .trace").count() >= 1
    page.wait_for_function("() => document.getElementById('chart-cap-throughput').data !== undefined")
    traces = page.evaluate("document.getElementById('chart-cap-throughput').data.map(t => t.name)")
    assert "knee" in traces, traces
    assert re.search(r"\d+ users", page.inner_text("#knee-users"))
    body = page.inner_text("body")
    assert "{{" not in body and "{%" not in body

    page.goto(f"{base}/runs/compare/?ids={packed.pk},{other.pk}")
    page.wait_for_function("() => document.getElementById('chart-cmp-rps').data !== undefined")
    lengths = page.evaluate(
        "document.getElementById('chart-cmp-rps').data"
        ".filter(t => t.x && t.x.length > 1).map(t => t.x.length)"
    )
    assert len(lengths) == 2 and min(lengths) > 0, lengths
    page.wait_for_function("() => document.getElementById('chart-cmp-capacity').data !== undefined")
    assert page.locator("#chart-cmp-capacity .scatterlayer .point").count() == 2 * len(LEVELS)
    assert "Slower: p95 response time +" in page.locator("#compare-runs").inner_text()
    assert errors == [], errors
