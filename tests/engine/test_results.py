"""results_ingest / run_summarise on the database under test: exact merges, totals, idempotent seconds."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from runs.core.engine.protocol import EndpointSecond as EndpointMsg
from runs.core.engine.protocol import ErrorCount, SecondMessage
from runs.core.histogram import Histogram
from runs.models import EndpointSecond, EndpointSummary, ErrorGroup, Run, RunSecond
from runs.services.results import results_ingest, run_summarise
from runs.services.runs import plan_snapshot

START = 1_760_000_000


def _hist(*values_ms: float) -> dict:
    h = Histogram()
    for v in values_ms:
        h.record_ms(v)
    return h.to_dict()


def _ep(name: str, values: list[float], failures: int = 0, method: str = "GET") -> EndpointMsg:
    return EndpointMsg(method, name, len(values), failures, 10 * len(values), _hist(*values))


@pytest.fixture
def run(make_plan) -> Run:
    plan = make_plan("http://127.0.0.1:9", "/a")
    return Run.objects.create(
        team=plan.team,
        plan=plan,
        plan_name=plan.name,
        snapshot=plan_snapshot(plan=plan),
        status=Run.Status.RUNNING,
        started_at=dt.datetime.fromtimestamp(START, tz=dt.UTC),
        heartbeat_at=timezone.now(),
    )


def test_a_batch_becomes_run_and_endpoint_seconds_with_exact_percentiles(run: Run) -> None:
    seconds = [
        SecondMessage(START, 3, 20.0, (_ep("/a", [10, 20, 30]), _ep("/b", [1049, 1049], failures=1)), ()),
        SecondMessage(START + 1, 4, 25.0, (_ep("/a", [40]),), ()),
    ]
    results_ingest(run_id=run.pk, seconds=seconds, start_epoch=START)

    first = RunSecond.objects.get(run=run, t=0)
    assert (first.users, first.requests, first.failures, first.bytes, first.cpu_percent) == (
        3,
        5,
        1,
        50,
        20.0,
    )
    assert first.p50_ms == pytest.approx(30, rel=1e-3)
    assert first.max_ms == pytest.approx(1049)
    assert first.mean_ms == pytest.approx((10 + 20 + 30 + 1049 * 2) / 5, rel=1e-3)
    assert Histogram.load(first.histogram).total == 5
    b = EndpointSecond.objects.get(run=run, t=0, name="/b")
    assert (b.requests, b.failures, b.p50_ms) == (2, 1, pytest.approx(1049, rel=1e-3))
    run.refresh_from_db()
    assert (run.total_requests, run.total_failures, run.total_bytes) == (6, 1, 60)
    assert (run.last_t, run.current_users) == (1, 4)


def test_the_runner_path_inserts_new_seconds_and_still_merges_a_replayed_one(run: Run) -> None:
    # As the runner calls it: last_t is the highest t it stored; seconds above it are new.
    first = [
        SecondMessage(START, 2, None, (_ep("/a", [10, 20]), _ep("/b", [5])), ()),
        SecondMessage(START + 1, 2, None, (_ep("/a", [30]),), ()),
    ]
    last_t = results_ingest(run_id=run.pk, seconds=first, start_epoch=START, last_t=-1)
    assert last_t == 1
    # A clock step replays t = 1 next to the new t = 2: the replayed second is merged.
    again = [
        SecondMessage(START + 1, 3, None, (_ep("/a", [40]), _ep("/b", [7])), ()),
        SecondMessage(START + 2, 3, None, (_ep("/a", [50]),), ()),
    ]
    assert results_ingest(run_id=run.pk, seconds=again, start_epoch=START, last_t=last_t) == 2
    t1 = RunSecond.objects.get(run=run, t=1)
    assert (t1.requests, t1.users) == (3, 3)
    assert Histogram.load(t1.histogram).total == 3
    a1 = EndpointSecond.objects.get(run=run, t=1, name="/a")
    assert (a1.requests, a1.p50_ms) == (2, pytest.approx(30, rel=1e-3))
    assert RunSecond.objects.filter(run=run).count() == 3
    assert EndpointSecond.objects.filter(run=run).count() == 5
    run.refresh_from_db()
    assert (run.total_requests, run.last_t) == (7, 2)


def test_ingesting_never_changes_the_messages(run: Run) -> None:
    # The runner ingests a batch again after a database error: its messages must be intact.
    from runs.core.engine import protocol

    line = protocol.encode(SecondMessage(START, 1, None, (_ep("/a", [10, 20]), _ep("/b", [30])), ()))
    msg = protocol.parse_line(line)
    assert isinstance(msg, SecondMessage)
    before = [(e.decoded().total, dict(e.decoded().counts)) for e in msg.endpoints]
    results_ingest(run_id=run.pk, seconds=[msg], start_epoch=START, last_t=-1)
    results_ingest(run_id=run.pk, seconds=[msg], start_epoch=START)  # merged with the stored one
    assert [(e.decoded().total, dict(e.decoded().counts)) for e in msg.endpoints] == before
    assert RunSecond.objects.get(run=run, t=0).requests == 6


def test_a_second_that_arrives_twice_is_merged_not_duplicated(run: Run) -> None:
    results_ingest(run_id=run.pk, seconds=[SecondMessage(START + 2, 2, 5.0, (_ep("/a", [10, 20]),), ())])
    results_ingest(run_id=run.pk, seconds=[SecondMessage(START + 2, 2, None, (_ep("/a", [30]),), ())])

    row = RunSecond.objects.get(run=run, t=2)
    assert row.requests == 3
    assert Histogram.load(row.histogram).to_dict() == _hist(10, 20, 30)
    assert EndpointSecond.objects.get(run=run, t=2).requests == 3
    run.refresh_from_db()
    assert run.total_requests == 3


def test_dropped_iterations_are_stored_and_add_up_when_a_second_arrives_twice(run: Run) -> None:
    results_ingest(
        run_id=run.pk,
        seconds=[
            SecondMessage(START, 5, 3.0, (_ep("/a", [500] * 10),), (), dropped_iterations=30),
            SecondMessage(START + 1, 5, 3.0, (), ()),
        ],
    )
    results_ingest(run_id=run.pk, seconds=[SecondMessage(START, 5, None, (), (), dropped_iterations=2)])

    assert list(RunSecond.objects.filter(run=run).values_list("t", "dropped_iterations")) == [(0, 32), (1, 0)]


def test_error_groups_add_up_across_batches(run: Run) -> None:
    refused = ErrorCount("GET", "/a", "ConnectionRefusedError", "[Errno 111] Connection refused", 4)
    results_ingest(
        run_id=run.pk, seconds=[SecondMessage(START, 1, None, (_ep("/a", [1] * 4, 4),), (refused,))]
    )
    results_ingest(
        run_id=run.pk,
        seconds=[SecondMessage(START + 3, 1, None, (_ep("/a", [1] * 4, 4),), (refused,))],
        start_epoch=START,
    )
    group = ErrorGroup.objects.get(run=run)
    assert group.count == 8
    assert group.first_seen == dt.datetime.fromtimestamp(START, tz=dt.UTC)
    assert group.last_seen == dt.datetime.fromtimestamp(START + 3, tz=dt.UTC)


def test_summary_merges_each_endpoint_over_the_whole_run(run: Run) -> None:
    values_a = [float(v) for v in range(1, 101)]
    results_ingest(
        run_id=run.pk,
        seconds=[
            SecondMessage(
                START + t, 2, None, (_ep("/a", values_a[t * 25 : (t + 1) * 25]), _ep("/b", [500.0])), ()
            )
            for t in range(4)
        ],
    )
    run_summarise(run_id=run.pk)
    run_summarise(run_id=run.pk)  # again: rebuilt, not duplicated

    a = EndpointSummary.objects.get(run=run, name="/a")
    assert (a.requests, a.failures, a.rps) == (100, 0, 25.0)
    assert (a.p50_ms, a.p90_ms, a.p99_ms, a.max_ms) == (
        pytest.approx(50, rel=1e-3),
        pytest.approx(90, rel=1e-3),
        pytest.approx(99, rel=1e-3),
        100.0,
    )
    assert EndpointSummary.objects.filter(run=run).count() == 2
    seconds_of_a = EndpointSecond.objects.filter(run=run, name="/a").values_list("histogram", flat=True)
    assert Histogram.load(a.histogram).to_dict() == Histogram.merged(seconds_of_a).to_dict()
    run.refresh_from_db()
    everything = values_a + [500.0] * 4
    assert run.p50_ms == pytest.approx(sorted(everything)[51], rel=1e-3)
    assert run.max_ms == 500.0


def test_ingesting_a_batch_takes_a_fixed_number_of_queries(run: Run, django_assert_max_num_queries) -> None:
    seconds = [
        SecondMessage(START + t, 5, 10.0, tuple(_ep(f"/e{i}", [5.0, 6.0]) for i in range(20)), ())
        for t in range(5)
    ]
    with django_assert_max_num_queries(10):
        results_ingest(run_id=run.pk, seconds=seconds, start_epoch=START)
    assert EndpointSecond.objects.filter(run=run).count() == 100


def test_a_batch_sent_again_after_an_uncertain_commit_is_stored_once(run: Run) -> None:
    # The runner numbers messages in the order it received them (seq of the batch's first).
    first = [
        SecondMessage(START, 2, None, (_ep("/a", [10, 20]),), ()),
        SecondMessage(START + 1, 2, None, (_ep("/a", [30]),), ()),
    ]
    assert results_ingest(run_id=run.pk, seconds=first, start_epoch=START, last_t=-1, seq=0) == 1
    # The commit's reply was lost: the runner sends the same messages again, with a newer one
    # (and a straggler for t = 1) received meanwhile.
    again = [
        *first,
        SecondMessage(START + 1, 2, None, (_ep("/a", [35]),), ()),
        SecondMessage(START + 2, 3, None, (_ep("/a", [40, 50]),), ()),
    ]
    assert results_ingest(run_id=run.pk, seconds=again, start_epoch=START, seq=0) == 2
    run.refresh_from_db()
    assert (run.total_requests, run.ingested_messages, run.last_t) == (6, 4, 2)
    assert [r.requests for r in RunSecond.objects.filter(run=run).order_by("t")] == [2, 2, 2]
    assert Histogram.load(EndpointSecond.objects.get(run=run, t=1).histogram).total == 2
    # The very same batch once more (a replay after the commit of the retry): nothing changes.
    assert results_ingest(run_id=run.pk, seconds=again, start_epoch=START, seq=0) == 2
    run.refresh_from_db()
    assert (run.total_requests, run.ingested_messages) == (6, 4)
    # The next batch, numbered after the stored ones, is stored as usual.
    nxt = [SecondMessage(START + 3, 3, None, (_ep("/a", [60]),), ())]
    assert results_ingest(run_id=run.pk, seconds=nxt, start_epoch=START, last_t=2, seq=4) == 3
    run.refresh_from_db()
    assert (run.total_requests, run.ingested_messages) == (7, 5)


def test_a_second_of_one_endpoint_stores_its_histogram_once_and_readers_still_see_it(run: Run) -> None:
    from runs.selectors.export import run_second_rows
    from runs.services.thresholds import run_seconds_for_watch

    seconds = [
        SecondMessage(START, 2, None, (_ep("/a", [10, 20, 30]),), ()),
        SecondMessage(START + 1, 2, None, (_ep("/a", [40]), _ep("/b", [5, 6])), ()),
        SecondMessage(START + 2, 2, None, (), ()),
    ]
    results_ingest(run_id=run.pk, seconds=seconds, start_epoch=START, last_t=-1)
    alone, both, idle = RunSecond.objects.filter(run=run).order_by("t")
    assert alone.histogram == b"" and alone.requests == 3 and alone.p50_ms == pytest.approx(20, rel=1e-3)
    assert Histogram.load(both.histogram).total == 3  # two endpoints: the merge is stored
    assert idle.histogram == b"" and idle.requests == 0
    # The export and the live threshold watch read the endpoint's histogram in its place.
    exported = [row[-1] for row in run_second_rows(run=run, fields=("t",), histograms=True)]
    assert exported[0] == _hist(10, 20, 30)
    assert exported[1] == Histogram.merged([_hist(40), _hist(5, 6)]).to_dict()
    assert exported[2] == Histogram().to_dict()
    overall, _ = run_seconds_for_watch(run_id=run.pk, after=-1, upto=2, endpoints=(), with_p90=True)
    assert [s.percentiles["p90"] for s in overall] == [
        Histogram.load(_hist(10, 20, 30)).percentile_ms(90),
        Histogram.merged([_hist(40), _hist(5, 6)]).percentile_ms(90),
        None,
    ]
