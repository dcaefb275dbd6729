"""Packing ended runs' per-second rows into blocks (runs.services.packing), on the database under
test: exact round trips, what is refused, the readers (runs.selectors.seconds), every page,
export and API answer byte for byte the same before and after, the safety net, the roll-up of a
packed run and ``manage.py pack_runs``.

The runs are stored as a run's load generator stores them (``results_ingest`` of per-second
messages built from real histograms, then ``run_finish``), with what real runs have: seconds of
exactly one endpoint (whose RunSecond histogram is stored empty: runs.selectors.histograms),
seconds with no request at all (null percentiles), a second with no message, an endpoint
second with no request, CPU known in some seconds and not in others.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from io import StringIO
from typing import Any

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

import runs.services.packing as packing_service
from runs.core.engine.protocol import EndpointSecond as EndpointMsg
from runs.core.engine.protocol import SecondMessage
from runs.core.histogram import Histogram
from runs.core.packing import BLOCK_SECONDS
from runs.models import EndpointSecond, GeneratorSecond, PackedSeconds, Run, RunAnalysis, RunSecond, TestPlan
from runs.selectors.seconds import (
    ENDPOINT_FIELDS,
    RUN_FIELDS,
    endpoint_second_dicts,
    endpoint_second_values,
    run_second_dicts,
    run_second_values,
)
from runs.services import caps
from runs.services.analysis import run_analysis_build
from runs.services.api_tokens import api_token_create
from runs.services.packing import PackMismatch, pack_candidates, packing_apply, run_pack, run_unpack
from runs.services.results import results_ingest
from runs.services.retention import retention_apply, run_rollup
from runs.services.runs import run_finish
from runs.services.shares import share_create_compare, share_create_run
from tests.pages.conftest import HOSTILE, make_run
from tests.pages.test_analysis_pages import LEVELS, STEP_SECONDS, make_staircase_plan, throughput

pytestmark = pytest.mark.django_db

START = 1_760_000_000
# The staircase plan's own endpoints and more, so that endpoints of one second sort differently
# by (method, name) and by name alone ("POST /B" is before "GET /a-c" by name), and by byte order
# and a linguistic collation ("/a-c" < "/ab" in bytes, "/ab" < "/a-c" in en_US): a reader that
# orders endpoints one way when packed and another when not fails (the second only on a server
# whose database sorts linguistically).
ENDPOINTS = (("GET", "/"), ("POST", HOSTILE), ("GET", "/a-c"), ("GET", "/ab"), ("POST", "/B"))
SKIPPED_SECOND = 17  # no message at all in this second


# -- runs as ingestion stores them --------------------------------------------------------------
def endpoint_message(
    rng: np.random.Generator, method: str, name: str, requests: int, mean_ms: float, failures: int = 0
) -> EndpointMsg:
    h = Histogram()
    for v in rng.lognormal(np.log(mean_ms), 0.3, size=requests):
        h.record_ms(float(v))
    return EndpointMsg(method, name, requests, failures, 1200 * requests, h.to_dict())


def second_message(
    rng: np.random.Generator, t: int, users: int, rate: float, endpoints: Sequence[tuple[str, str]]
) -> SecondMessage:
    """One second of a staircase run; which kinds of second it is depends on ``t`` only."""
    requests = max(1, int(rate + rng.integers(-2, 3)))
    mean_ms = 1000.0 * users / max(rate, 1.0)
    if t % 29 == 13:  # nothing answered in this second: no endpoint, null percentiles
        chosen: list[EndpointMsg] = []
    elif t % 11 == 5:  # exactly one endpoint: the RunSecond's histogram is stored empty
        chosen = [endpoint_message(rng, *endpoints[0], requests, mean_ms)]
    else:
        shares = rng.multinomial(requests, [1 / len(endpoints)] * len(endpoints))
        chosen = []
        for i, (method, name) in enumerate(endpoints):
            n = int(shares[i])
            if t % 13 == 6 and i == 1:
                n = 0  # reported with no request: an EndpointSecond with null percentiles
            failures = int(n > 0 and rng.random() < 0.1)
            chosen.append(endpoint_message(rng, method, name, n, mean_ms * (1 + 0.3 * i), failures))
    # CPU: unknown in some seconds; a full-precision float in others (not whole half-µs).
    cpu = None if t % 7 == 3 else float(rng.uniform(5, 95))
    dropped = int(rng.integers(0, 4)) if t % 17 == 2 else 0
    return SecondMessage(START + t, users, cpu, tuple(chosen), (), dropped_iterations=dropped)


def seed_run(
    plan: TestPlan,
    *,
    seed: int,
    levels: Sequence[int] = LEVELS,
    step_seconds: int = STEP_SECONDS,
    endpoints: Sequence[tuple[str, str]] = ENDPOINTS,
    rate: Callable[[int], float] = lambda users: throughput(users) / 4,
    skipped: Sequence[int] = (SKIPPED_SECOND,),
    finished_hours_ago: float = 2.0,
) -> Run:
    """A staircase run stored as its load generator would have, then finished (summaries,
    thresholds, stored analysis: ``run_finish``)."""
    rng = np.random.default_rng(seed)
    run = make_run(plan, status=Run.Status.RUNNING, started_at=dt.datetime.fromtimestamp(START, tz=dt.UTC))
    messages = []
    t = 0
    for users in levels:
        for _ in range(step_seconds):
            if t not in skipped:
                messages.append(second_message(rng, t, users, rate(users), endpoints))
            t += 1
    results_ingest(run_id=run.pk, seconds=messages, start_epoch=START, last_t=-1)
    run_finish(run_id=run.pk, status=Run.Status.FINISHED)
    Run.objects.filter(pk=run.pk).update(finished_at=timezone.now() - dt.timedelta(hours=finished_hours_ago))
    run.refresh_from_db()
    return run


@pytest.fixture
def plan(alice: Any) -> TestPlan:
    return make_staircase_plan(alice)


@pytest.fixture
def run(plan: TestPlan) -> Run:
    """150 s, five endpoints."""
    return seed_run(plan, seed=1)


@pytest.fixture
def long_run(plan: TestPlan) -> Run:
    """1300 s (three blocks a series), two endpoints; no message at 600, the first second of
    the second block, nor at 1199, the last of it. One test: its seeding is the dearest."""
    return seed_run(
        plan,
        seed=2,
        levels=(2, 4),
        step_seconds=650,
        endpoints=ENDPOINTS[:2],
        rate=lambda users: 3.0 * users,
        skipped=(SKIPPED_SECOND, BLOCK_SECONDS, 2 * BLOCK_SECONDS - 1),
    )


# -- exact comparisons --------------------------------------------------------------------------
def exact(value: Any) -> Any:
    """A value whose equality is exact: floats by their bits (so -0.0 is not 0.0), types kept."""
    if isinstance(value, float):
        return ("float", struct.pack("<d", value))
    if isinstance(value, memoryview):
        value = bytes(value)
    return (type(value).__name__, value)


def exact_rows(rows: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
    return [tuple(exact(v) for v in row) for row in rows]


def columns_of(model: type[Model]) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields if f.attname not in ("id", "run_id")]


def stored_rows(run: Run) -> dict[str, list[tuple[Any, ...]]]:
    """Every per-second row of the run, every column but the key and the run."""
    return {
        "seconds": exact_rows(
            RunSecond.objects.filter(run=run).order_by("t").values_list(*columns_of(RunSecond))
        ),
        "endpoint_seconds": exact_rows(
            EndpointSecond.objects.filter(run=run)
            .order_by("t", "method", "name")
            .values_list(*columns_of(EndpointSecond))
        ),
        "generator_seconds": exact_rows(
            GeneratorSecond.objects.filter(run=run)
            .order_by("generator", "t")
            .values_list(*columns_of(GeneratorSecond))
        ),
    }


def blocks_of(run: Run) -> list[tuple[Any, ...]]:
    return [
        (endpoint, method, name, t0, t1, rows, bytes(columns), bytes(histograms))
        for endpoint, method, name, t0, t1, rows, columns, histograms in PackedSeconds.objects.filter(run=run)
        .order_by("endpoint", "method", "name", "t0")
        .values_list("endpoint", "method", "name", "t0", "t1", "rows", "columns", "histograms")
    ]


def packed(run: Run) -> Run:
    result = run_pack(run_id=run.pk)
    assert result.packed, result.describe()
    run.refresh_from_db()
    return run


# -- a. the round trip --------------------------------------------------------------------------
def test_the_seeded_run_has_what_packing_must_keep(run: Run) -> None:
    """The fixture has every kind of second the other tests rely on (or they prove less)."""
    seconds = list(
        RunSecond.objects.filter(run=run).values_list("t", "requests", "histogram", "p50_ms", "cpu_percent")
    )
    assert any(requests and hist == b"" for _, requests, hist, _, _ in seconds)  # one endpoint: elided
    assert any(requests and hist != b"" for _, requests, hist, _, _ in seconds)
    assert any(requests == 0 and p50 is None for _, requests, _, p50, _ in seconds)
    assert any(cpu is None for *_, cpu in seconds) and any(cpu is not None for *_, cpu in seconds)
    assert SKIPPED_SECOND not in {t for t, *_ in seconds}
    assert EndpointSecond.objects.filter(run=run, requests=0, p50_ms__isnull=True).exists()
    assert EndpointSecond.objects.filter(run=run).values("method", "name").distinct().count() == len(
        ENDPOINTS
    )
    assert run.status == Run.Status.FINISHED and run.resolution_s == 1 and run.packed_at is None


def test_packing_replaces_the_rows_by_blocks_and_unpacking_restores_them_exactly(run: Run) -> None:
    before = stored_rows(run)
    result = run_pack(run_id=run.pk)

    assert result.packed
    assert result.rows == len(before["seconds"]) + len(before["endpoint_seconds"])
    assert not RunSecond.objects.filter(run=run).exists()
    assert not EndpointSecond.objects.filter(run=run).exists()
    blocks = blocks_of(run)
    assert result.blocks == len(blocks) == 1 + len(ENDPOINTS)  # 150 s: one block a series
    assert sum(b[5] for b in blocks) == result.rows
    assert {(b[0], b[1], b[2]) for b in blocks} == {(False, "", "")} | {(True, m, n) for m, n in ENDPOINTS}
    run.refresh_from_db()
    assert run.packed_at is not None

    assert run_unpack(run_id=run.pk) is True
    run.refresh_from_db()
    assert run.packed_at is None
    assert not PackedSeconds.objects.filter(run=run).exists()
    assert stored_rows(run) == before


def test_a_run_without_seconds_packs_to_no_block_and_back(plan: TestPlan) -> None:
    run = make_run(plan, status=Run.Status.FAILED)  # failed before its first second
    result = run_pack(run_id=run.pk)
    assert (result.packed, result.rows, result.blocks) == (True, 0, 0)
    run.refresh_from_db()
    assert run.packed_at is not None
    assert run_second_values(run=run, fields=RUN_FIELDS) == []
    assert endpoint_second_values(run=run, fields=ENDPOINT_FIELDS) == []
    assert run_unpack(run_id=run.pk)
    run.refresh_from_db()
    assert run.packed_at is None and not RunSecond.objects.filter(run=run).exists()


# -- b. what is not packed ----------------------------------------------------------------------
def test_an_active_run_is_not_packed(plan: TestPlan) -> None:
    run = seed_run(plan, seed=3, levels=(2,), step_seconds=20)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING, finished_at=None)
    before = stored_rows(run)
    result = run_pack(run_id=run.pk)
    assert not result.packed and (result.rows, result.blocks) == (0, 0)
    assert "not packed" in result.describe() and f"#{run.pk}" in result.describe()
    run.refresh_from_db()
    assert run.packed_at is None
    assert not PackedSeconds.objects.filter(run=run).exists()
    assert stored_rows(run) == before


def test_a_rolled_up_run_is_not_packed(plan: TestPlan) -> None:
    run = seed_run(plan, seed=4, levels=(2,), step_seconds=40)
    assert run_rollup(run=run).rolled
    before = stored_rows(run)
    assert not run_pack(run_id=run.pk).packed
    run.refresh_from_db()
    assert (run.resolution_s, run.packed_at) == (10, None)
    assert not PackedSeconds.objects.filter(run=run).exists()
    assert stored_rows(run) == before


def test_a_packed_run_is_not_packed_again_and_unpacking_twice_does_nothing(plan: TestPlan) -> None:
    run = packed(seed_run(plan, seed=5, levels=(2,), step_seconds=40))
    blocks, packed_at = blocks_of(run), run.packed_at
    assert not run_pack(run_id=run.pk).packed
    run.refresh_from_db()
    assert (blocks_of(run), run.packed_at) == (blocks, packed_at)
    assert run_unpack(run_id=run.pk)
    rows = stored_rows(run)
    assert run_unpack(run_id=run.pk) is False
    assert stored_rows(run) == rows
    assert run_unpack(run_id=999_999) is False


def test_pack_candidates_are_ended_full_resolution_unpacked_runs_past_the_cutoff(plan: TestPlan) -> None:
    now = timezone.now()

    def ended(hours: float, **fields: Any) -> Run:
        return make_run(plan, finished_at=now - dt.timedelta(hours=hours), **fields)

    old = ended(3)
    failed = ended(5, status=Run.Status.FAILED)
    cancelled = ended(4, status=Run.Status.CANCELLED)
    recent = ended(0.5)
    ended(6, resolution_s=10)  # rolled up
    ended(7, packed_at=now - dt.timedelta(hours=1))  # packed
    make_run(plan, status=Run.Status.RUNNING)
    make_run(plan, status=Run.Status.QUEUED)

    def ids(hours: float) -> list[int]:
        return list(pack_candidates(hours=hours, now=now).values_list("pk", flat=True))

    # Oldest first.
    assert ids(1) == [failed.pk, cancelled.pk, old.pk]
    assert ids(0.25) == [failed.pk, cancelled.pk, old.pk, recent.pk]
    assert ids(4.5) == [failed.pk]
    assert ids(24) == []


def test_packing_apply_packs_the_candidates_only(plan: TestPlan) -> None:
    old = seed_run(plan, seed=6, levels=(2,), step_seconds=20, finished_hours_ago=3)
    recent = seed_run(plan, seed=7, levels=(2,), step_seconds=20, finished_hours_ago=0.5)
    results = packing_apply(hours=1)
    assert [(r.run_id, r.packed) for r in results] == [(old.pk, True)]
    assert PackedSeconds.objects.filter(run=old).exists() and not RunSecond.objects.filter(run=old).exists()
    assert (
        not PackedSeconds.objects.filter(run=recent).exists()
        and RunSecond.objects.filter(run=recent).exists()
    )
    assert packing_apply(hours=-1) == []


# -- c. the readers -----------------------------------------------------------------------------
RANGES = [
    (None, None),
    (0, 599),
    (599, 600),
    (590, 610),
    (600, 600),  # no row
    (600, 1199),
    (1199, 1200),
    (601, 601),
    (550, 1250),
    (None, 700),
    (700, None),
    (1250, 5000),
    (2000, 3000),
]
RUN_SUBSETS = [
    RUN_FIELDS,
    ("t", "requests", "p95_ms"),
    ("p99_ms", "t"),  # not in stored order
    ("requests", "failures"),  # no t
    ("histogram", "requests", "t"),
    ("cpu_percent",),
    ("mean_ms", "dropped_iterations", "users", "bytes", "max_ms", "p50_ms"),
]
ENDPOINT_SUBSETS = [
    ("method", "name", *ENDPOINT_FIELDS),
    ("t", "method", "name", "requests", "p95_ms"),
    ("name", "t", "histogram"),
    ("requests", "failures"),  # neither t nor the endpoint
    ("p50_ms", "max_ms", "method"),
]


def readers(run: Run) -> dict[str, Any]:
    """Everything runs.selectors.seconds answers for the run, exactly."""
    run.refresh_from_db()
    out: dict[str, Any] = {}
    for lo, hi in RANGES:
        for fields in RUN_SUBSETS:
            out[f"run {fields} {lo}..{hi}"] = exact_rows(
                run_second_values(run=run, fields=fields, lo=lo, hi=hi)
            )
        for fields in ENDPOINT_SUBSETS:
            out[f"endpoints {fields} {lo}..{hi}"] = exact_rows(
                endpoint_second_values(run=run, fields=fields, lo=lo, hi=hi)
            )
    fields = ("t", "method", "name", "requests", "p99_ms", "histogram")
    for names in (["/"], [HOSTILE], ["/", HOSTILE], [], ["/nope"]):
        for lo, hi in ((None, None), (595, 605)):
            out[f"names {names} {lo}..{hi}"] = exact_rows(
                endpoint_second_values(run=run, fields=fields, lo=lo, hi=hi, names=names)
            )
    for endpoint in (("GET", "/"), ("POST", HOSTILE), ("POST", "/"), ("GET", "/nope")):
        for lo, hi in ((None, None), (590, 1210)):
            out[f"endpoint {endpoint} {lo}..{hi}"] = exact_rows(
                endpoint_second_values(run=run, fields=fields, lo=lo, hi=hi, endpoint=endpoint)
            )
            out[f"endpoint dicts {endpoint} {lo}..{hi}"] = [
                {k: exact(v) for k, v in d.items()}
                for d in endpoint_second_dicts(run=run, fields=fields, lo=lo, hi=hi, endpoint=endpoint)
            ]
    out["run dicts"] = [
        {k: exact(v) for k, v in d.items()}
        for d in run_second_dicts(run=run, fields=RUN_FIELDS, lo=10, hi=1290)
    ]
    return out


def test_a_run_longer_than_a_block_reads_alike_and_round_trips_across_block_boundaries(long_run: Run) -> None:
    rows = stored_rows(long_run)
    before = readers(long_run)
    # The answers are not trivially equal: rows, nulls and histograms are in them.
    assert len(before[f"run {RUN_FIELDS} None..None"]) == 1300 - 3
    assert before[f"run {RUN_FIELDS} 600..600"] == []
    assert len(before["endpoint ('GET', '/') 590..1210"]) > 550

    result = run_pack(run_id=long_run.pk)
    assert result.packed and result.blocks == 3 * (1 + 2)
    spans = [(b[3], b[4]) for b in blocks_of(long_run) if not b[0]]
    # Seconds 600 and 1199 have no row: the blocks hold what there is, 600 s apart.
    assert spans == [(0, 599), (601, 1198), (1200, 1299)]
    after = readers(long_run)
    assert after.keys() == before.keys()
    different = [key for key in before if after[key] != before[key]]
    assert different == []

    assert run_unpack(run_id=long_run.pk)
    assert stored_rows(long_run) == rows


def test_endpoint_rows_stay_in_time_order_when_an_endpoints_block_starts_later(long_run: Run) -> None:
    """One endpoint has no row at 601, so its second block starts a second after the other's:
    the streamed reader must still give every second of that span in (t, method, name) order."""
    method, name = ENDPOINTS[0]
    EndpointSecond.objects.filter(run=long_run, method=method, name=name, t=BLOCK_SECONDS + 1).delete()
    fields = ("t", "method", "name", "requests", "histogram")
    before = exact_rows(endpoint_second_values(run=long_run, fields=fields))
    assert [r[0] for r in before] == sorted(r[0] for r in before)
    packed(long_run)
    starts = sorted({b[3] for b in blocks_of(long_run) if b[0]})
    assert BLOCK_SECONDS + 1 in starts and BLOCK_SECONDS + 2 in starts  # the two endpoints' t0
    assert exact_rows(endpoint_second_values(run=long_run, fields=fields)) == before
    assert exact_rows(endpoint_second_values(run=long_run, fields=fields[1:])) == [r[1:] for r in before]


def test_the_readers_order_endpoints_alike_before_and_after_packing(run: Run) -> None:
    """Five endpoints a second, names whose order depends on the collation (see ENDPOINTS)."""
    fields = ("t", "method", "name", "requests")
    before = endpoint_second_values(run=run, fields=fields)
    packed(run)
    assert endpoint_second_values(run=run, fields=fields) == before
    assert endpoint_second_values(run=run, fields=fields, lo=40, hi=44) == [
        r for r in before if 40 <= r[0] <= 44
    ]


# -- d. what users see --------------------------------------------------------------------------
# A page's CSRF token is masked afresh for every response, its CSP nonce is drawn per request,
# the report says when it was generated and an analysis when it was computed (the test has them
# recomputed): only those are replaced before comparing. Everything else must be byte-identical.
VARYING = (
    re.compile(rb'(name="csrfmiddlewaretoken" value=")[^"]+(")'),
    re.compile(rb'(nonce=")[^"]+(")'),
    re.compile(rb"(, generated )\d{4}-\d\d-\d\d \d\d:\d\d:\d\d( UTC</span>)"),
    re.compile(rb'("computed_at": ?")[^"]+(")'),
)


def normalised(body: bytes) -> bytes:
    for pattern in VARYING:
        body = pattern.sub(rb"\1<varies>\2", body)
    return body


@dataclass(frozen=True)
class Visitors:
    """Alice, logged in (pages and exports) and with an API token; anyone with her share links."""

    alice: Client
    api: Client
    token: str
    anonymous: Client
    run_share: str
    compare_share: str


def visitors(alice: Any, a: Run, b: Run) -> Visitors:
    client = Client()
    client.force_login(alice)
    _, token = api_token_create(user=alice, name="packing")
    _, run_share = share_create_run(run=a, user=alice)
    _, compare_share = share_create_compare(team=a.team, runs=[a, b], baseline_id=b.pk, user=alice)
    return Visitors(client, Client(), token, Client(), run_share, compare_share)


def answers(v: Visitors, a: Run, b: Run, only: Sequence[str] = ()) -> dict[str, tuple[int, bytes]]:
    """What users who may see both runs get from every page, export and API reading them (``only``
    these, if given)."""
    pages = {
        "run page": reverse("runs-detail", args=[a.pk]),
        "run page b": reverse("runs-detail", args=[b.pk]),
        "live.json": reverse("runs-live", args=[a.pk]),
        "live.json after": reverse("runs-live", args=[a.pk]) + "?after=40",
        "tables": reverse("runs-tables", args=[a.pk]) + "?upto=60",
        "csv": reverse("runs-export-csv", args=[a.pk]),
        "json": reverse("runs-export-json", args=[a.pk]),
        "report": reverse("runs-report", args=[a.pk]),
        "compare": reverse("runs-compare") + f"?ids={a.pk},{b.pk}",
        "compare baseline": reverse("runs-compare") + f"?ids={a.pk},{b.pk}&baseline={b.pk}",
        "compare window": reverse("runs-compare-window") + f"?ids={a.pk},{b.pk}&from=10&to=60",
        "compare window b": reverse("runs-compare-window") + f"?ids={b.pk},{a.pk}&from=0&to=149",
        "plan page": reverse("runs-plan-detail", args=[a.plan_id]),
        "plan trend": reverse("runs-plan-trend", args=[a.plan_id]),
    }
    shared = {
        "share run page": f"/s/{v.run_share}/",
        "share live.json": f"/s/{v.run_share}/live.json",
        "share tables": f"/s/{v.run_share}/tables/?upto=60",
        "share csv": f"/s/{v.run_share}/export.csv",
        "share json": f"/s/{v.run_share}/export.json",
        "share report": f"/s/{v.run_share}/report.html",
        "share compare": f"/s/{v.compare_share}/",
        "share compare window": f"/s/{v.compare_share}/window.json?ids={a.pk},{b.pk}&from=10&to=60",
    }
    api = {
        "api series": f"/api/v1/runs/{a.pk}/series",
        "api series from-to": f"/api/v1/runs/{a.pk}/series?from=10&to=40",
        "api series endpoint": f"/api/v1/runs/{a.pk}/series?endpoint=GET%20/",
        "api series hostile endpoint": f"/api/v1/runs/{a.pk}/series?endpoint=POST%20{HOSTILE}",
        "api series endpoint from-to": f"/api/v1/runs/{a.pk}/series?endpoint=GET%20/a-c&from=5&to=30",
        "api series unknown endpoint": f"/api/v1/runs/{a.pk}/series?endpoint=GET%20/nope",
        "api endpoints": f"/api/v1/runs/{a.pk}/endpoints",
        "api analysis": f"/api/v1/runs/{a.pk}/analysis",
        "api run": f"/api/v1/runs/{a.pk}",
    }
    out: dict[str, tuple[int, bytes]] = {}
    for client, urls, headers in (
        (v.alice, pages, {}),
        (v.anonymous, shared, {}),
        (v.api, api, {"Authorization": f"Bearer {v.token}"}),
    ):
        for key, url in urls.items():
            if only and key not in only:
                continue
            response = client.get(url, headers=headers)
            # The exports stream; the pages do not.
            streamed = response.streaming
            body = b"".join(response.streaming_content) if streamed else response.content  # type: ignore[attr-defined]
            out[key] = (response.status_code, normalised(body))
    return out


def differences(before: dict[str, tuple[int, bytes]], after: dict[str, tuple[int, bytes]]) -> dict[str, str]:
    """Which answers changed, with the first differing bytes of each (to read in a failure)."""
    out = {}
    for key, (status, body) in before.items():
        if after[key] == (status, body):
            continue
        at = next((i for i, (x, y) in enumerate(zip(body, after[key][1], strict=False)) if x != y), None)
        at = min(len(body), len(after[key][1])) if at is None else at
        was, now = body[max(0, at - 80) : at + 80], after[key][1][max(0, at - 80) : at + 80]
        out[key] = f"status {status}->{after[key][0]}; at byte {at}: {was!r} -> {now!r}"
    return out


@pytest.fixture
def two_runs(plan: TestPlan) -> tuple[Run, Run]:
    return seed_run(plan, seed=1), seed_run(plan, seed=8)


def test_pages_exports_and_the_api_are_byte_identical_after_packing(
    alice: Any, two_runs: tuple[Run, Run]
) -> None:
    a, b = two_runs
    v = visitors(alice, a, b)

    before = answers(v, a, b)
    # Fetched again unchanged, the answers are the same: the comparison below means something.
    assert differences(before, answers(v, a, b)) == {}
    statuses = {key: status for key, (status, _) in before.items()}
    assert statuses == {key: 404 if key == "api series unknown endpoint" else 200 for key in before}
    series = json.loads(before["api series"][1])["points"]
    assert len(series) == 150 - 1 and any(p["p50_ms"] is None for p in series)

    # With no stored analysis, the pages compute it from the seconds (and store it again).
    recomputed = ("run page", "compare", "api analysis", "share compare", "plan trend")

    def without_analyses() -> dict[str, tuple[int, bytes]]:
        RunAnalysis.objects.filter(run__in=[a, b]).delete()
        return answers(v, a, b, only=recomputed)

    fresh = without_analyses()
    assert RunAnalysis.objects.filter(run__in=[a, b]).count() == 2

    packed(a)
    assert differences(before, answers(v, a, b)) == {}, "one run packed"
    assert differences(fresh, without_analyses()) == {}, "one run packed, analyses recomputed"
    packed(b)
    assert differences(before, answers(v, a, b)) == {}, "both runs packed"
    assert differences(fresh, without_analyses()) == {}, "both runs packed, analyses recomputed"


def test_the_daily_user_seconds_of_a_target_count_packed_runs_alike(plan: TestPlan) -> None:
    a = seed_run(plan, seed=17, levels=(2, 8), step_seconds=20)
    b = seed_run(plan, seed=18, levels=(8, 14), step_seconds=20)
    scopes = (caps.GLOBAL, caps.team_scope(team_id=plan.team_id))

    def used() -> list[float]:
        return [caps.target_user_seconds_used(scope=s, target_id=plan.target_id) for s in scopes]

    before = used()
    # Second 17 of each run has no row (2 users in a, 8 in b).
    assert before == [20.0 * (2 + 8) - 2 + 20 * (8 + 14) - 8] * 2
    packed(a)
    assert used() == before
    packed(b)
    assert used() == before


def test_the_analysis_built_from_packed_rows_is_the_one_built_before(run: Run) -> None:
    built = json.dumps(run_analysis_build(run=run), sort_keys=True, default=str)
    stored = RunAnalysis.objects.get(run=run).data
    assert stored["steps"], "the seeded staircase has steps to compare"
    packed(run)
    assert json.dumps(run_analysis_build(run=run), sort_keys=True, default=str) == built


# -- e. the safety net ----------------------------------------------------------------------------
def corrupting(where: Callable[[list[tuple[Any, ...]]], bool]) -> Callable[..., list[tuple[Any, ...]]]:
    """``unpack`` as if one block came back with its last row's last float a bit off."""
    real = packing_service.unpack

    def unpack(columns: bytes, histograms: bytes | None = None) -> list[tuple[Any, ...]]:
        rows = real(columns, histograms)
        if not where(rows):
            return rows
        last = list(rows[-1])
        i = max(i for i, v in enumerate(last) if isinstance(v, float))
        last[i] = math.nextafter(last[i], math.inf)
        return [*rows[:-1], tuple(last)]

    return unpack


@pytest.mark.parametrize(
    "where",
    [
        pytest.param(lambda rows: len(rows[0]) == len(RUN_FIELDS), id="the-run-block"),
        pytest.param(lambda rows: len(rows[0]) == len(ENDPOINT_FIELDS), id="every-endpoint-block"),
    ],
)
def test_a_block_that_does_not_round_trip_changes_nothing(
    run: Run, monkeypatch: pytest.MonkeyPatch, where: Callable[[list[tuple[Any, ...]]], bool]
) -> None:
    before = stored_rows(run)
    monkeypatch.setattr(packing_service, "unpack", corrupting(where))
    with pytest.raises(PackMismatch):
        run_pack(run_id=run.pk)
    run.refresh_from_db()
    assert run.packed_at is None
    assert not PackedSeconds.objects.filter(run=run).exists()
    assert stored_rows(run) == before


@pytest.mark.django_db(transaction=True)
def test_a_block_that_does_not_round_trip_changes_nothing_outside_any_transaction(
    plan: TestPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the beat task and the command call it (autocommit): the transaction run_pack opens is
    the outermost one (the test above runs inside the test's, as a caller's atomic block would)."""
    run = seed_run(plan, seed=16, levels=(2, 8), step_seconds=20)
    before = stored_rows(run)
    monkeypatch.setattr(
        packing_service, "unpack", corrupting(lambda rows: len(rows[0]) == len(ENDPOINT_FIELDS))
    )
    with pytest.raises(PackMismatch):
        run_pack(run_id=run.pk)
    run.refresh_from_db()
    assert run.packed_at is None
    assert not PackedSeconds.objects.filter(run=run).exists()
    assert stored_rows(run) == before


def test_packing_apply_leaves_a_failing_run_as_it_was_and_packs_the_others(
    plan: TestPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = seed_run(plan, seed=9, levels=(2,), step_seconds=20, finished_hours_ago=5)
    second = seed_run(plan, seed=10, levels=(2,), step_seconds=20, finished_hours_ago=3)
    rows = stored_rows(first)
    calls: list[int] = []

    def first_call(rows: list[tuple[Any, ...]]) -> bool:
        calls.append(1)
        return len(calls) == 1

    monkeypatch.setattr(packing_service, "unpack", corrupting(first_call))
    results = packing_apply(hours=1)
    assert [(r.run_id, r.packed) for r in results] == [(second.pk, True)]
    first.refresh_from_db()
    assert first.packed_at is None and stored_rows(first) == rows
    assert not PackedSeconds.objects.filter(run=first).exists()


# -- f. retention -------------------------------------------------------------------------------
def test_rolling_up_a_packed_run_gives_the_rows_of_rolling_up_its_unpacked_twin(plan: TestPlan) -> None:
    twin = seed_run(plan, seed=11, levels=(2, 8), step_seconds=20)
    run = packed(seed_run(plan, seed=11, levels=(2, 8), step_seconds=20))
    assert RunAnalysis.objects.get(run=run).data == RunAnalysis.objects.get(run=twin).data

    rolled, rolled_twin = run_rollup(run=run), run_rollup(run=twin)

    assert rolled.rolled and rolled_twin.rolled
    assert (rolled.before, rolled.after) == (rolled_twin.before, rolled_twin.after)
    assert rolled.before["seconds"] == 39 and rolled.after["seconds"] == 4
    run.refresh_from_db()
    assert (run.resolution_s, run.packed_at) == (10, None)
    assert not PackedSeconds.objects.filter(run=run).exists()
    assert stored_rows(run) == stored_rows(twin)
    assert RunAnalysis.objects.get(run=run).data == RunAnalysis.objects.get(run=twin).data


def test_a_retention_dry_run_counts_a_packed_run_as_its_unpacked_twin(plan: TestPlan) -> None:
    twin = seed_run(plan, seed=19, levels=(2, 8), step_seconds=20, finished_hours_ago=72)
    run = packed(seed_run(plan, seed=19, levels=(2, 8), step_seconds=20, finished_hours_ago=72))
    counted = {r.run_id: (r.before, r.after) for r in retention_apply(days=1, dry_run=True)}
    assert counted[twin.pk][0]["seconds"] == 39
    assert counted[run.pk] == counted[twin.pk]
    run.refresh_from_db()
    assert run.packed_at is not None and run.resolution_s == 1  # a dry run changes nothing


# -- g. the command -----------------------------------------------------------------------------
def command(*args: Any, **options: Any) -> str:
    out = StringIO()
    call_command("pack_runs", *args, stdout=out, **options)
    return out.getvalue()


def test_pack_runs_packs_and_unpacks_one_run_and_says_so(plan: TestPlan) -> None:
    run = seed_run(plan, seed=12, levels=(2, 8), step_seconds=20)
    before = stored_rows(run)
    rows = len(before["seconds"]) + len(before["endpoint_seconds"])

    out = command(run=run.pk)
    assert out.strip() == f"Run #{run.pk}: {rows} per-second rows packed into {1 + len(ENDPOINTS)} blocks"
    assert not RunSecond.objects.filter(run=run).exists()

    with pytest.raises(CommandError, match=rf"Run #{run.pk}: not packed"):
        command(run=run.pk)

    out = command(unpack=run.pk)
    assert out.strip() == f"Run #{run.pk}: per-second rows restored."
    assert stored_rows(run) == before
    with pytest.raises(CommandError, match=rf"Run #{run.pk} is not packed"):
        command(unpack=run.pk)


def test_pack_runs_refuses_an_active_run_clearly(plan: TestPlan) -> None:
    run = seed_run(plan, seed=13, levels=(2,), step_seconds=10)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING, finished_at=None)
    with pytest.raises(CommandError) as error:
        command(run=run.pk)
    assert str(error.value) == f"Run #{run.pk}: not packed (it is running: only ended runs are packed)"
    assert RunSecond.objects.filter(run=run).exists() and not PackedSeconds.objects.filter(run=run).exists()


def test_pack_runs_by_age(plan: TestPlan) -> None:
    old = seed_run(plan, seed=14, levels=(2,), step_seconds=10, finished_hours_ago=3)
    seed_run(plan, seed=15, levels=(2,), step_seconds=10, finished_hours_ago=0.5)
    out = command(hours=1)
    assert f"Run #{old.pk}: " in out
    assert out.strip().endswith("1 run(s) ended more than 1 hour(s) ago were packed.")
    assert command(hours=-1).strip() == "Packing is off (-1 hours): per-second rows stay as they are."
