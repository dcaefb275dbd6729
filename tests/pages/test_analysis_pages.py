"""Capacity, validity, baseline and comparison pages, on seeded per-second results.

The synthetic target serves 20 req/s per user up to a ceiling of 160 req/s, with no think
time, so Little's law gives the mean latency N / X: 50 ms up to 8 users, then 87.5 ms at 14.
The knee is therefore at 8 users and the maximum sustained throughput about 160 req/s.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse

from runs.core.histogram import Histogram
from runs.models import EndpointSecond, EndpointSummary, Run, RunAnalysis, RunSecond, TestPlan
from runs.services import analysis, catalog
from runs.services.analysis import ANALYSIS_VERSION, run_analyse
from runs.services.results import run_summarise
from runs.services.runs import run_finish
from tests.pages.conftest import HOSTILE, make_run
from tests.pages.test_pages import json_script

pytestmark = pytest.mark.django_db

LEVELS = (2, 8, 14, 20, 26)
STEP_SECONDS = 30
ENDPOINTS = (("GET", "/"), ("POST", HOSTILE))


def throughput(users: int) -> float:
    return min(20.0 * users, 160.0)


@pytest.fixture
def staircase_plan(alice: Any) -> TestPlan:
    return make_staircase_plan(alice)


def make_staircase_plan(alice: Any) -> TestPlan:
    """Alice's five-step staircase plan (2 → 26 users, 30 s a step) against a closed port."""
    target = catalog.target_create(
        team=alice.memberships.get().team,
        data={"name": "Shop " + HOSTILE, "base_url": "http://127.0.0.1:9"},
        user=alice,
    )
    scenario = catalog.scenario_save(
        team=alice.memberships.get().team,
        data={"name": "Checkout", "think_time_min": 0.0, "think_time_max": 0.0},
        steps=[
            {"name": "", "method": "GET", "path": "/"},
            {"name": HOSTILE, "method": "POST", "path": "/cart"},
        ],
        user=alice,
    )
    profile = catalog.profile_save(
        team=alice.memberships.get().team,
        name="Stairs",
        kind="staircase",
        params={
            "start_users": 2,
            "step_users": 6,
            "step_duration": STEP_SECONDS,
            "steps": len(LEVELS),
            "spawn_rate": None,
        },
    )
    return catalog.plan_create(
        team=alice.memberships.get().team,
        data={"name": "Stairs " + HOSTILE, "target": target, "scenario": scenario, "profile": profile},
        user=alice,
    )


def seed_run(
    plan: TestPlan,
    *,
    levels: tuple[int, ...] = LEVELS,
    step_seconds: int = STEP_SECONDS,
    latency_factor: float = 1.0,
    cpu_percent: float = 30.0,
    hot_seconds: tuple[int, ...] = (),
    seed: int = 0,
    name: str | None = None,
) -> Run:
    """A finished run with RunSecond, EndpointSecond and EndpointSummary rows built from real
    histograms. Endpoint 0 gets 3/4 of the requests, endpoint 1 a quarter and 30 % slower."""
    rng = np.random.default_rng(seed)
    seconds, endpoint_seconds = [], []
    totals = {key: Histogram() for key in ENDPOINTS}
    counts = {key: [0, 0] for key in ENDPOINTS}
    t = 0
    for users in levels:
        x = throughput(users)
        mean_ms = 1000.0 * users / x * latency_factor
        for _ in range(step_seconds):
            level = mean_ms * (1.0 + 0.03 * rng.standard_normal())
            requests = int(x + rng.integers(-2, 3))
            split = {ENDPOINTS[0]: requests * 3 // 4, ENDPOINTS[1]: requests - requests * 3 // 4}
            merged = Histogram()
            for i, key in enumerate(ENDPOINTS):
                h = Histogram()
                scale = 1.0 if i == 0 else 1.3
                for v in rng.uniform(0.8, 1.2, size=split[key]) * level * scale:
                    h.record_ms(float(v))
                merged.merge(h)
                totals[key].merge(h)
                counts[key][0] += split[key]
                ps = h.percentiles_ms((50, 95, 99))
                endpoint_seconds.append(
                    dict(
                        t=t,
                        method=key[0],
                        name=key[1],
                        requests=split[key],
                        failures=0,
                        p50_ms=ps[50],
                        p95_ms=ps[95],
                        p99_ms=ps[99],
                        max_ms=h.max_ms,
                        histogram=h.to_dict(),
                    )
                )
            ps = merged.percentiles_ms((50, 95, 99))
            seconds.append(
                dict(
                    t=t,
                    users=users,
                    requests=requests,
                    failures=0,
                    cpu_percent=95.0 if t in hot_seconds else cpu_percent,
                    p50_ms=ps[50],
                    p95_ms=ps[95],
                    p99_ms=ps[99],
                    max_ms=merged.max_ms,
                    mean_ms=merged.mean_ms,
                    histogram=merged.to_dict(),
                )
            )
            t += 1
    run_total = Histogram.merged(totals.values())
    ps = run_total.percentiles_ms((50, 95, 99))
    run = make_run(
        plan,
        name=name,
        last_t=t - 1,
        planned_seconds=t,
        total_requests=run_total.total,
        p50_ms=ps[50],
        p95_ms=ps[95],
        p99_ms=ps[99],
        max_ms=run_total.max_ms,
    )
    RunSecond.objects.bulk_create(RunSecond(run=run, **row) for row in seconds)
    EndpointSecond.objects.bulk_create(EndpointSecond(run=run, **row) for row in endpoint_seconds)
    for (method, ep_name), h in totals.items():
        ps = h.percentiles_ms((50, 90, 95, 99))
        EndpointSummary.objects.create(
            run=run,
            method=method,
            name=ep_name,
            requests=h.total,
            failures=0,
            p50_ms=ps[50],
            p90_ms=ps[90],
            p95_ms=ps[95],
            p99_ms=ps[99],
            max_ms=h.max_ms,
            mean_ms=h.mean_ms,
            rps=h.total / t,
            histogram=h.to_dict(),
        )
    return run


def figures_on(response: Any, ids: list[str]) -> dict[str, Any]:
    return {i: json_script(response, i) for i in ids}


def trace_names(fig: dict[str, Any]) -> list[str]:
    return [t.get("name", "") for t in fig["data"]]


# --- capacity on the run page --------------------------------------------------------------------
def test_the_run_page_reports_the_knee_at_8_users_and_160_rps(
    alice_client: Client, staircase_plan: TestPlan
) -> None:
    run = seed_run(staircase_plan)
    response = alice_client.get(reverse("runs-detail", args=[run.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="capacity"' in body
    knee = body.split('id="knee-users">')[1].split("</dd>")[0]
    assert "<strong>8 users</strong>" in knee
    max_rps = body.split('id="knee-max-rps">')[1].split("</dd>")[0]
    value = float(max_rps.split("<strong>")[1].split(" req/s")[0])
    assert value == pytest.approx(160.0, rel=0.03)
    assert "knee at 8 users" in body  # the evidence, with its criterion
    assert "Little&#x27;s law" in body or "Little's law" in body
    # Step table: one row per level, and the CI columns.
    table = body.split('id="step-table"')[1].split("<tbody>")[1].split("</tbody>")[0]
    assert table.count("<tr>") == len(LEVELS)
    # USL numbers.
    usl = body.split('id="usl"')[1].split("</dl>")[0]
    for label in ("λ", "σ (contention)", "κ (coherency)", "R²", "Predicted peak"):
        assert label in usl
    # Bottlenecks: two endpoints, stepped run.
    assert 'id="bottlenecks"' in body
    # Closed model: the coordinated-omission note where the latency curve is used.
    assert 'data-code="coordinated_omission"' in body
    assert 'data-code="generator_cpu"' not in body


def test_the_capacity_charts_draw_the_usl_curve_over_the_steps(
    alice_client: Client, staircase_plan: TestPlan
) -> None:
    run = seed_run(staircase_plan)
    response = alice_client.get(reverse("runs-detail", args=[run.pk]))
    figs = figures_on(
        response,
        ["cap-throughput", "cap-latency", "cap-curve", "cap-ep-throughput", "cap-ep-latency", "cap-ep-curve"],
    )
    names = trace_names(figs["cap-throughput"])
    assert names[0] == "measured req/s" and any(n.startswith("USL fit") for n in names) and "knee" in names
    measured = figs["cap-throughput"]["data"][0]
    assert measured["x"] == list(LEVELS)
    assert measured["error_y"]["array"][0] is not None  # throughput CI
    assert [t["name"] for t in figs["cap-curve"]["data"]] == ["p50", "p95", "p99"]
    # Per endpoint; the hostile endpoint name is escaped.
    ep_names = trace_names(figs["cap-ep-curve"])
    assert "GET /" in ep_names
    assert "POST &lt;img src=x onerror=alert(1)&gt;" in ep_names
    for fig in figs.values():
        assert "<img" not in str(fig)


def test_validity_warnings_show_generator_cpu_above_90_percent(
    alice_client: Client, staircase_plan: TestPlan
) -> None:
    run = seed_run(staircase_plan, hot_seconds=tuple(range(40, 50)))
    body = alice_client.get(reverse("runs-detail", args=[run.pk])).content.decode()
    assert 'data-code="generator_cpu"' in body
    assert "Load generator CPU reached 95%" in body


def test_a_constant_run_gets_validity_warnings_but_no_capacity_section(
    alice_client: Client, staircase_plan: TestPlan
) -> None:
    run = seed_run(staircase_plan, levels=(1,), step_seconds=12)
    # Profile kind as recorded: a one-step constant run.
    run.snapshot["profile"]["kind"] = "constant"
    run.save(update_fields=["snapshot"])
    body = alice_client.get(reverse("runs-detail", args=[run.pk])).content.decode()
    assert 'id="capacity"' not in body
    assert 'data-code="too_few_requests"' in body  # 7 steady seconds × 20 req/s < 200
    assert 'data-code="coordinated_omission"' not in body  # its latency is not used for capacity


def test_a_running_run_has_no_analysis(alice_client: Client, staircase_plan: TestPlan) -> None:
    run = make_run(staircase_plan, status=Run.Status.RUNNING)
    body = alice_client.get(reverse("runs-detail", args=[run.pk])).content.decode()
    assert 'id="capacity"' not in body and 'id="validity"' not in body
    assert "Mark as baseline" not in body


# --- baseline ------------------------------------------------------------------------------------
def test_marking_a_baseline_shows_it_on_the_plan_and_the_verdict_on_other_runs(
    alice_client: Client, staircase_plan: TestPlan
) -> None:
    base = seed_run(staircase_plan, seed=1)
    slower = seed_run(staircase_plan, seed=3, latency_factor=1.2)
    body = alice_client.get(reverse("runs-detail", args=[base.pk])).content.decode()
    assert "Mark as baseline of its plan" in body

    response = alice_client.post(reverse("runs-baseline", args=[base.pk]))
    assert response.status_code == 302 and response["Location"] == base.get_absolute_url()
    staircase_plan.refresh_from_db()
    assert staircase_plan.baseline_run_id == base.pk

    plan_page = alice_client.get(reverse("runs-plan-detail", args=[staircase_plan.pk])).content.decode()
    assert f'Baseline: <a href="{reverse("runs-detail", args=[base.pk])}">run #{base.pk}</a>' in plan_page

    base_page = alice_client.get(reverse("runs-detail", args=[base.pk])).content.decode()
    assert 'id="is-baseline"' in base_page and 'id="baseline-verdict"' not in base_page

    page = alice_client.get(reverse("runs-detail", args=[slower.pk])).content.decode()
    verdict = page.split('id="baseline-verdict"')[1].split("</section>")[0]
    assert ">slower</strong>" in verdict
    assert f"{reverse('runs-compare')}?ids={base.pk},{slower.pk}" in verdict


def test_only_a_finished_run_can_be_a_baseline(alice_client: Client, staircase_plan: TestPlan) -> None:
    running = make_run(staircase_plan, status=Run.Status.RUNNING)
    response = alice_client.post(reverse("runs-baseline", args=[running.pk]), follow=True)
    assert "only a finished run can be a baseline" in response.content.decode()
    staircase_plan.refresh_from_db()
    assert staircase_plan.baseline_run_id is None


def test_baseline_is_a_login_only_post_and_404s_on_a_missing_run(
    client: Client, alice_client: Client
) -> None:
    url = reverse("runs-baseline", args=[987654])
    assert client.post(url).status_code == 302
    assert alice_client.get(url).status_code == 405
    assert alice_client.post(url).status_code == 404


# --- comparison -----------------------------------------------------------------------------------
def test_the_comparison_gives_verdicts_for_an_aa_pair_and_a_20_percent_slower_copy(
    alice_client: Client, staircase_plan: TestPlan
) -> None:
    a = seed_run(staircase_plan, seed=1)
    b = seed_run(staircase_plan, seed=2)
    slow = seed_run(staircase_plan, seed=3, latency_factor=1.2)
    response = alice_client.get(reverse("runs-compare"), {"ids": f"{a.pk},{b.pk},{slow.pk}"})
    assert response.status_code == 200
    body = response.content.decode()
    table = body.split('id="compare-runs"')[1].split("</table>")[0]
    rows = {int(r.split('"')[0]): r for r in table.split('data-run="')[1:]}
    assert "<strong>reference</strong>" in rows[a.pk]
    assert ">no significant change</span>" in rows[b.pk]
    assert ">slower</span>" in rows[slow.pk]
    # In plain words (it used to read "shift +20% (95% CI …)"), with the p-value beside it.
    assert "p = " in rows[slow.pk] and "Slower: p95 response time +" in rows[slow.pk]
    assert "95 % sure it is between" in rows[slow.pk]
    # The latency copy serves the same throughput: capacity unchanged, said as such.
    assert "Capacity unchanged: max throughput" in rows[slow.pk]
    # Per endpoint: both endpoints of the slower copy are slower; of the A/A copy, neither.
    endpoints = body.split('id="compare-endpoints"')[1].split("</table>")[0]
    assert endpoints.count(">slower</span>") == 2
    assert endpoints.count(">no significant change</span>") == 2
    assert "&lt;img src=x onerror=alert(1)&gt;" in endpoints and HOSTILE not in endpoints


def test_the_comparison_overlays_downsample_and_escape_run_names(
    alice_client: Client, staircase_plan: TestPlan
) -> None:
    a = seed_run(staircase_plan, seed=1, name="Night " + HOSTILE)
    b = seed_run(staircase_plan, seed=2)
    response = alice_client.get(reverse("runs-compare"), {"ids": f"{a.pk},{b.pk}"})
    figs = figures_on(response, ["fig-cmp-rps", "fig-cmp-p95", "fig-cmp-errors", "fig-cmp-capacity"])
    for fig in figs.values():
        assert len(fig["data"]) == 2
        assert fig["data"][0]["name"] == f"#{a.pk} · Night &lt;img src=x onerror=alert(1)&gt;"
        assert "<img" not in str(fig)
    assert figs["fig-cmp-rps"]["data"][0]["x"][0] == 0  # aligned at the start
    capacity = figs["fig-cmp-capacity"]["data"][0]
    assert capacity["customdata"] == list(LEVELS)
    assert capacity["x"][-1] == pytest.approx(160.0, rel=0.03)


def test_the_compare_url_round_trips_ids(alice_client: Client, staircase_plan: TestPlan) -> None:
    runs = [seed_run(staircase_plan, seed=s, levels=(2, 8), step_seconds=12) for s in (1, 2, 3)]
    ids = ",".join(str(r.pk) for r in runs)
    run_list = alice_client.get(reverse("runs-list")).content.decode()
    assert f'action="{reverse("runs-compare")}"' in run_list
    for r in runs:
        assert f'name="ids" value="{r.pk}"' in run_list
    # The checkbox form submits ids=…&ids=…; the canonical URL is ids=3,5,9. Both give one page.
    canonical = alice_client.get(reverse("runs-compare") + f"?ids={ids}")
    repeated = alice_client.get(reverse("runs-compare"), {"ids": [str(r.pk) for r in runs]})
    assert canonical.status_code == repeated.status_code == 200
    body = canonical.content.decode()
    assert f"/runs/compare/?ids={ids}" in body  # the share link
    assert f"?ids={ids}&amp;baseline={runs[1].pk}" in body
    assert f"/runs/compare/?ids={ids}" in repeated.content.decode()
    # Choosing another reference keeps the ids and moves the reference.
    other = alice_client.get(
        reverse("runs-compare"), {"ids": ids, "baseline": str(runs[1].pk)}
    ).content.decode()
    table = other.split('id="compare-runs"')[1].split("</table>")[0]
    assert (
        table.split(f'data-run="{runs[1].pk}"')[1].split("</tr>")[0].count("<strong>reference</strong>") == 1
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "Choose at least 2 runs"),
        ("?ids=5", "Choose at least 2 runs"),
        ("?ids=5,5", "Choose at least 2 runs"),
        ("?ids=abc,1", "whole numbers separated by commas"),
        ("?ids=1,-2", "whole numbers separated by commas"),
        ("?ids=" + ",".join(str(i) for i in range(1, 22)), "at most 20 runs"),
        ("?ids=1,2&baseline=3", "The baseline must be one of the compared runs"),
        ("?ids=1,2&baseline=x", "Enter a whole number"),
    ],
)
def test_bad_compare_requests_get_a_clear_message(alice_client: Client, query: str, message: str) -> None:
    response = alice_client.get(reverse("runs-compare") + query)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_comparing_a_missing_run_is_a_404(alice_client: Client, staircase_plan: TestPlan) -> None:
    run = seed_run(staircase_plan, levels=(2,), step_seconds=12)
    assert alice_client.get(reverse("runs-compare"), {"ids": f"{run.pk},987654"}).status_code == 404


def test_the_compare_page_needs_a_login(client: Client) -> None:
    response = client.get(reverse("runs-compare"), {"ids": "1,2"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_compare_page_query_count_does_not_grow_with_runs_or_endpoints(
    alice_client: Client, staircase_plan: TestPlan, django_assert_num_queries: Any
) -> None:
    runs = [seed_run(staircase_plan, seed=s, levels=(2, 8, 14), step_seconds=12) for s in range(4)]
    for run in runs:
        run_analyse(run_id=run.pk)
    # session + user + the user's teams, then runs, seconds, the runs' live changes, stored
    # analyses (the parts the page shows), endpoint summaries: no histogram, no block series;
    # the first view of a set of runs also reads the block series of the pairs it judges (one
    # query) and stores their verdicts in the reference's analysis.
    for subset in (runs[:2], runs):
        for queries in (10, 8):
            with django_assert_num_queries(queries):
                response = alice_client.get(
                    reverse("runs-compare"), {"ids": ",".join(str(r.pk) for r in subset)}
                )
            assert response.status_code == 200


def test_the_compare_page_marks_each_runs_live_changes_in_its_colour(
    alice_client: Client, staircase_plan: TestPlan
) -> None:
    from runs.figures.analysis import color
    from runs.models import RunControl

    runs = [seed_run(staircase_plan, seed=s, levels=(2, 8, 14), step_seconds=12) for s in range(2)]
    ids = {"ids": ",".join(str(r.pk) for r in runs)}
    page = alice_client.get(reverse("runs-compare"), ids)
    assert "shapes" not in json_script(page, "fig-cmp-rps")["layout"]
    assert 'id="compare-controls-note"' not in page.content.decode()

    applied = RunControl.State.APPLIED
    RunControl.objects.create(run=runs[1], kind="users", value=20, previous=14, state=applied, at_s=30.5)
    RunControl.objects.create(run=runs[1], kind="stop", state=applied, at_s=33.0)
    RunControl.objects.create(run=runs[1], kind="users", value=9, state=RunControl.State.MISSED)
    RunControl.objects.create(run=runs[0], kind="users", value=3, state=RunControl.State.REFUSED, at_s=5.0)
    page = alice_client.get(reverse("runs-compare"), ids)
    assert 'id="compare-controls-note"' in page.content.decode()
    for chart in ("fig-cmp-rps", "fig-cmp-p95", "fig-cmp-errors"):
        layout = json_script(page, chart)["layout"]
        # Only the applied changes of the second run, at the second they took effect.
        assert [(sh["x0"], sh["line"]["color"]) for sh in layout["shapes"]] == [
            (30.5, color(1)),
            (33.0, color(1)),
        ]
        assert [a["text"] for a in layout["annotations"] if a.get("name", "").startswith("control-")] == [
            f"#{runs[1].pk} → 20 users",
            f"#{runs[1].pk} stopped early",
        ]


def test_the_compare_page_stores_its_verdicts_and_shows_the_same_on_later_views(
    alice_client: Client, staircase_plan: TestPlan
) -> None:
    from runs.core.analysis.stored import verdicts_from_data
    from runs.selectors import analysis as selectors_analysis
    from runs.services.analysis import stored_verdicts

    runs = [seed_run(staircase_plan, seed=s, levels=(2, 8, 14), step_seconds=12) for s in range(3)]
    for run in runs:
        run_analyse(run_id=run.pk)
    ids = [r.pk for r in runs]
    first = selectors_analysis.runs_compare(runs=Run.objects.all(), ids=ids)
    data = RunAnalysis.objects.get(run=runs[0]).data
    assert set(stored_verdicts(data)) == {str(runs[1].pk), str(runs[2].pk)}
    assert "steps" in data and "blocks" in data  # only the verdicts key was written
    again = selectors_analysis.runs_compare(runs=Run.objects.all(), ids=ids)
    assert again.overall == first.overall
    assert [r.comparison for r in again.endpoint_rows] == [r.comparison for r in first.endpoint_rows]
    computed = selectors_analysis.verdicts(
        selectors_analysis.block_arrays(data),
        selectors_analysis.block_arrays(RunAnalysis.objects.get(run=runs[1]).data),
        sample_seconds=selectors_analysis._sample_seconds(data),
    )
    assert verdicts_from_data(stored_verdicts(data)[str(runs[1].pk)]) == computed
    # Stored under another version: ignored and replaced.
    RunAnalysis.objects.filter(run=runs[0]).update(data=data | {"verdicts": {"key": [0, 0], "runs": {}}})
    response = alice_client.get(reverse("runs-compare"), {"ids": ",".join(str(i) for i in ids)})
    assert response.status_code == 200
    assert set(stored_verdicts(RunAnalysis.objects.get(run=runs[0]).data)) == {
        str(runs[1].pk),
        str(runs[2].pk),
    }


def test_the_compare_page_computes_missing_analyses_once(
    alice_client: Client, staircase_plan: TestPlan, django_assert_max_num_queries: Any
) -> None:
    runs = [seed_run(staircase_plan, seed=s, levels=(2, 8, 14), step_seconds=12) for s in range(3)]
    ids = ",".join(str(r.pk) for r in runs)
    # Per missing run: its seconds, endpoint step histograms, endpoint p95s, its live-control
    # timeline (the levels it followed), and the savepoint around them (2: a failed analysis
    # must not break the request's transaction); one upsert for all; one update storing the
    # verdicts (8: the page itself, with the user's teams).
    with django_assert_max_num_queries(8 + 6 * len(runs) + 1 + 1):
        first = alice_client.get(reverse("runs-compare"), {"ids": ids})
    assert RunAnalysis.objects.filter(run__in=runs, version=ANALYSIS_VERSION).count() == 3
    again = alice_client.get(reverse("runs-compare"), {"ids": ids})
    assert json_script(again, "fig-cmp-capacity") == json_script(first, "fig-cmp-capacity")


def _page_without_tokens(response: Any) -> str:
    """The page's HTML less what differs between any two requests (nonces, CSRF tokens)."""
    import re

    body = response.content.decode()
    body = re.sub(r'nonce="[^"]*"', 'nonce=""', body)
    return re.sub(r'(csrfmiddlewaretoken" value=|csrf-token" content=)"[^"]*"', r'\1""', body)


def test_the_compare_page_shows_from_its_partial_reads_what_the_whole_analyses_show(
    alice_client: Client, staircase_plan: TestPlan
) -> None:
    """The page reads only parts of stored analyses (steps, knee, USL, stored verdicts, the
    endpoint names) and the overlays' columns in one aggregate: every figure, verdict and
    table number is the one computed from the whole analyses and the rows."""
    from runs.core.analysis.verdicts import capacity_change
    from runs.selectors import analysis as selectors_analysis
    from runs.selectors.runs import seconds_series
    from runs.services.analysis import run_analyses_ensure

    runs = [seed_run(staircase_plan, seed=s) for s in range(3)]
    runs.append(seed_run(staircase_plan, seed=7, latency_factor=1.2))
    # An endpoint with a block series but no summary row: named by the analysis alone.
    EndpointSummary.objects.filter(run=runs[2], name=HOSTILE).delete()
    ids = [r.pk for r in runs]
    query = {"ids": ",".join(map(str, ids))}
    # 1. No analysis stored: each is computed whole, and the verdicts from the whole ones.
    whole = alice_client.get(reverse("runs-compare"), query)
    assert RunAnalysis.objects.filter(run__in=runs, version=ANALYSIS_VERSION).count() == len(runs)
    # 2. Stored analyses read in part, verdicts computed from the block series read apart.
    RunAnalysis.objects.filter(run=runs[0]).update(
        data=RunAnalysis.objects.get(run=runs[0]).data | {"verdicts": {}}
    )
    partial = alice_client.get(reverse("runs-compare"), query)
    # 3. Stored analyses read in part, verdicts as stored.
    stored = alice_client.get(reverse("runs-compare"), query)
    assert whole.status_code == partial.status_code == stored.status_code == 200
    assert _page_without_tokens(whole) == _page_without_tokens(partial) == _page_without_tokens(stored)
    body = stored.content.decode()
    assert ">slower</span>" in body and ">no significant change</span>" in body  # verdicts shown
    for name in ("fig-cmp-rps", "fig-cmp-p95", "fig-cmp-errors", "fig-cmp-throughput", "fig-cmp-capacity"):
        assert json_script(whole, name) == json_script(stored, name)

    # The selector's result, field by field, against the whole analyses and the rows.
    full = run_analyses_ensure(ids=ids)
    result = selectors_analysis.runs_compare(runs=Run.objects.all(), ids=ids)
    ref = result.reference_id
    for compared in result.runs:
        pk = compared.run.pk
        rows = list(
            RunSecond.objects.filter(run_id=pk)
            .order_by("t")
            .values_list("t", "requests", "failures", "p95_ms")
        )
        assert compared.series == seconds_series(rows)
        assert all(type(v) is float for v in compared.series["p95"] if v is not None)
        assert compared.windows == [(s["users"], s["start_t"], s["end_t"]) for s in full[pk]["steps"]]
        assert compared.knee == full[pk].get("knee") and compared.usl == full[pk].get("usl")
        if pk != ref:
            assert compared.capacity_change == capacity_change(full[ref], full[pk])
            computed = selectors_analysis.verdicts(
                selectors_analysis.block_arrays(full[ref]),
                selectors_analysis.block_arrays(full[pk]),
                sample_seconds=selectors_analysis._sample_seconds(full[ref]),
            )
            assert result.overall[pk] == computed["(all endpoints)"]
            for row in result.endpoint_rows:
                if row.run_id == pk:
                    assert row.comparison == computed.get(row.endpoint)
    assert any(
        r.run_id == runs[2].pk and r.endpoint == "POST " + HOSTILE and r.p95_ms is None
        for r in result.endpoint_rows
    )


def test_comparing_runs_without_results_says_insufficient_data(
    alice_client: Client, staircase_plan: TestPlan
) -> None:
    empty = [make_run(staircase_plan), make_run(staircase_plan, status=Run.Status.CANCELLED)]
    response = alice_client.get(reverse("runs-compare"), {"ids": f"{empty[0].pk},{empty[1].pk}"})
    assert response.status_code == 200
    assert ">insufficient data</span>" in response.content.decode()


# --- the stored analysis --------------------------------------------------------------------------
def test_summarising_a_run_stores_its_analysis(staircase_plan: TestPlan) -> None:
    run = seed_run(staircase_plan)
    assert not RunAnalysis.objects.filter(run=run).exists()
    run_summarise(run_id=run.pk)
    stored = RunAnalysis.objects.get(run=run)
    assert stored.version == ANALYSIS_VERSION
    assert [s["users"] for s in stored.data["steps"]] == list(LEVELS)
    assert stored.data["knee"]["knee_users"] == 8
    blocks = stored.data["blocks"]
    assert len(blocks["users"]) == len(blocks["overall"]) == len(LEVELS) * 5  # 25 steady s per step
    assert set(blocks["endpoints"]) == {"GET /", "POST " + HOSTILE}


def test_finishing_a_run_stores_its_analysis_and_the_page_reads_it(
    alice_client: Client, staircase_plan: TestPlan, django_assert_num_queries: Any
) -> None:
    run = seed_run(staircase_plan)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING, finished_at=None)
    run_finish(run_id=run.pk, status=Run.Status.FINISHED)
    run.refresh_from_db()
    assert run.status == Run.Status.FINISHED
    assert RunAnalysis.objects.filter(run=run, version=ANALYSIS_VERSION).exists()
    # session, user, the user's teams, run + plan, seconds, live-control timeline, endpoint
    # summaries, errors, stored analysis: no histogram is read.
    with django_assert_num_queries(9):
        body = alice_client.get(reverse("runs-detail", args=[run.pk])).content.decode()
    assert "<strong>8 users</strong>" in body.split('id="knee-users">')[1].split("</dd>")[0]


def test_a_failed_analysis_does_not_stop_a_run_from_ending(
    alice_client: Client, staircase_plan: TestPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = seed_run(staircase_plan)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING, finished_at=None)

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(analysis, "run_analysis_build", broken)
    run_finish(run_id=run.pk, status=Run.Status.FINISHED)
    run.refresh_from_db()
    assert run.status == Run.Status.FINISHED and run.p95_ms is not None
    assert not RunAnalysis.objects.filter(run=run).exists()
    monkeypatch.undo()
    # The page computes it on first view, and stores it.
    body = alice_client.get(reverse("runs-detail", args=[run.pk])).content.decode()
    assert 'id="capacity"' in body
    assert RunAnalysis.objects.filter(run=run).exists()


def test_while_a_finished_run_is_analysed_others_can_still_write(
    transactional_db: None, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On SQLite a transaction holds the one write lock of the file: analysing a long run
    # inside one made the other run's storing and every page's write wait for seconds. A
    # writer that does not wait at all (busy timeout 0) must get through mid-analysis.
    import threading

    from django.db import connection
    from django.db.models import F

    from runs.models import Team

    plan = make_staircase_plan(alice)
    run = seed_run(plan)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING, finished_at=None)
    build = analysis.run_analysis_build
    outcome: list[Any] = []

    def other_writer() -> None:
        try:
            with connection.cursor() as cursor:
                if connection.vendor == "sqlite":
                    cursor.execute("PRAGMA busy_timeout = 0")
                else:
                    cursor.execute("SET lock_timeout = 1")  # ms: fail instead of waiting
            outcome.append(Team.objects.filter(memberships__user=alice).update(name=F("name")))
        except Exception as exc:  # noqa: BLE001 - the assertion shows it
            outcome.append(exc)
        finally:
            connection.close()

    def build_while_another_writes(**kwargs: Any) -> dict[str, Any]:
        data = build(**kwargs)
        writer = threading.Thread(target=other_writer)
        writer.start()
        writer.join(30)
        return data

    monkeypatch.setattr(analysis, "run_analysis_build", build_while_another_writes)
    run_finish(run_id=run.pk, status=Run.Status.FINISHED)

    assert outcome == [1]
    assert RunAnalysis.objects.filter(run=run).exists()


def test_the_run_page_computes_and_stores_a_missing_analysis(
    alice_client: Client, staircase_plan: TestPlan
) -> None:
    run = seed_run(staircase_plan)
    assert not RunAnalysis.objects.filter(run=run).exists()
    body = alice_client.get(reverse("runs-detail", args=[run.pk])).content.decode()
    assert "knee at 8 users" in body
    stored = RunAnalysis.objects.get(run=run)
    assert stored.version == ANALYSIS_VERSION and stored.data["show_capacity"] is True


def test_an_analysis_of_another_version_is_recomputed(alice_client: Client, staircase_plan: TestPlan) -> None:
    run = seed_run(staircase_plan)
    assert run.finished_at is not None
    RunAnalysis.objects.create(
        run=run, version=ANALYSIS_VERSION - 1, computed_at=run.finished_at, data={"old": 1}
    )
    body = alice_client.get(reverse("runs-detail", args=[run.pk])).content.decode()
    assert "knee at 8 users" in body
    stored = RunAnalysis.objects.get(run=run)
    assert stored.version == ANALYSIS_VERSION and "old" not in stored.data


def test_a_running_run_gets_no_stored_analysis(alice_client: Client, staircase_plan: TestPlan) -> None:
    done = seed_run(staircase_plan, seed=1)
    running = seed_run(staircase_plan, seed=2)
    Run.objects.filter(pk=running.pk).update(status=Run.Status.RUNNING, finished_at=None)
    response = alice_client.get(reverse("runs-compare"), {"ids": f"{done.pk},{running.pk}"})
    assert response.status_code == 200
    assert set(RunAnalysis.objects.values_list("run_id", flat=True)) == {done.pk}
