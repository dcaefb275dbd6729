"""Distributed runs with the database: the plan's generators setting, its snapshot, the
per-generator rows ingestion stores, and the run page's generator charts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from runs.core.engine import protocol
from runs.core.engine.merge import merge_seconds
from runs.core.histogram import Histogram
from runs.forms.plans import TestPlanForm
from runs.models import GeneratorSecond, LoadProfile, Run, RunSecond
from runs.services import catalog
from runs.services.results import results_ingest
from runs.services.runs import RunError, plan_snapshot, run_create

START = 1_760_000_000
URL = "http://127.0.0.1:9"


def _plan_data(plan: Any, **overrides: Any) -> dict[str, Any]:
    data = {
        "name": "P",
        "target": str(plan.target_id),
        "scenario": str(plan.scenario_id),
        "profile": str(plan.profile_id),
        "generators": "2",
        "notes": "",
    }
    return {**data, **overrides}


# -- the plan's setting -----------------------------------------------------------------------
def test_the_plan_form_takes_a_number_of_generators(make_plan: Any) -> None:
    plan = make_plan(URL)
    form = TestPlanForm(_plan_data(plan), instance=plan, team=plan.team)
    assert form.is_valid(), form.errors
    catalog.plan_update(plan=plan, data=form.cleaned_data)
    plan.refresh_from_db()
    assert plan.generators == 2


@pytest.mark.parametrize("value", ["0", "9", "-1", "many"])
def test_the_plan_form_refuses_generators_out_of_range(make_plan: Any, value: str) -> None:
    plan = make_plan(URL)
    form = TestPlanForm(_plan_data(plan, generators=value), instance=plan, team=plan.team)
    assert not form.is_valid()
    assert "generators" in form.errors
    plan.refresh_from_db()
    assert plan.generators == 1


def test_the_maximum_follows_the_setting(make_plan: Any, settings: Any) -> None:
    settings.SCALETEST_MAX_GENERATORS = 2
    plan = make_plan(URL)
    form = TestPlanForm(_plan_data(plan, generators="3"), instance=plan, team=plan.team)
    assert not form.is_valid()
    assert form.errors["generators"] == ["Enter a number of generators from 1 to 2."]


def test_arrival_rate_plans_stay_on_one_generator(make_plan: Any) -> None:
    plan = make_plan(
        URL, profile_kind="arrival_constant", params={"rate": 5, "duration": 3, "max_in_flight": 10}
    )
    form = TestPlanForm(_plan_data(plan), instance=plan, team=plan.team)
    assert not form.is_valid()
    assert "Arrival-rate profiles run on one generator" in form.errors["generators"][0]


def test_run_create_refuses_what_the_form_refuses_and_creates_nothing(make_plan: Any, settings: Any) -> None:
    plan = make_plan(URL, generators=5)
    settings.SCALETEST_MAX_GENERATORS = 4
    with pytest.raises(RunError, match="Generators must be between 1 and 4"):
        run_create(plan=plan)
    assert not Run.objects.exists()


def test_the_snapshot_keeps_the_number_of_generators(make_plan: Any) -> None:
    plan = make_plan(URL, generators=3)
    snapshot = plan_snapshot(plan=plan)
    plan.generators = 1
    plan.save()
    assert snapshot["generators"] == 3


def test_the_plan_pages_show_the_generators(make_plan: Any, alice: Any) -> None:
    plan = make_plan(URL, generators=3)
    client = Client()
    client.force_login(alice)
    detail = client.get(reverse("runs-plan-detail", args=[plan.pk])).content.decode()
    assert 'id="plan-generators">3' in detail
    edit = client.get(reverse("runs-plan-edit", args=[plan.pk])).content.decode()
    assert 'name="generators"' in edit and 'value="3"' in edit


# -- ingestion ----------------------------------------------------------------------------------
def _merged(epoch: int, shares: dict[int, tuple[int, float]]) -> protocol.SecondMessage:
    parts = []
    for index, (requests, cpu) in shares.items():
        hist = Histogram()
        for _ in range(requests):
            hist.record_ms(10.0 + index)
        parts.append(
            (
                index,
                {
                    "epoch": epoch,
                    "users": 1,
                    "cpu_percent": cpu,
                    "endpoints": [
                        {
                            "method": "GET",
                            "name": "/a",
                            "requests": requests,
                            "failures": 0,
                            "bytes": 0,
                            "histogram": hist.to_dict(),
                        }
                    ],
                },
            )
        )
    message = protocol.parse_line(json.dumps(merge_seconds(epoch, parts)))
    assert isinstance(message, protocol.SecondMessage)
    return message


def _run(make_plan: Any, generators: int = 2) -> Run:
    plan = make_plan(URL, generators=generators)
    return Run.objects.create(
        team=plan.team,
        plan=plan,
        plan_name=plan.name,
        snapshot=plan_snapshot(plan=plan),
        status=Run.Status.RUNNING,
        generators=generators,
    )


def test_ingestion_stores_each_generators_share_and_merges_a_second_sent_again(make_plan: Any) -> None:
    run = _run(make_plan)
    last = results_ingest(
        run_id=run.pk, seconds=[_merged(START, {0: (5, 20.0), 1: (3, 95.0)})], start_epoch=START, last_t=-1
    )
    # Generator 1's late data for t=0, released on its own by the master.
    results_ingest(run_id=run.pk, seconds=[_merged(START, {1: (2, 97.0)})], start_epoch=START, last_t=last)

    rows = {(g.generator, g.t): (g.requests, g.cpu_percent) for g in GeneratorSecond.objects.filter(run=run)}
    assert rows == {(0, 0): (5, 20.0), (1, 0): (5, 97.0)}
    second = RunSecond.objects.get(run=run, t=0)
    assert second.requests == 10 == sum(r for r, _ in rows.values())
    assert Histogram.load(second.histogram).total == 10


# -- the run page ------------------------------------------------------------------------------
def test_the_run_page_draws_generator_charts_and_names_a_saturated_generator(
    make_plan: Any, alice: Any
) -> None:
    run = _run(make_plan)
    results_ingest(
        run_id=run.pk,
        seconds=[_merged(START + i, {0: (10, 35.0), 1: (4, 99.0)}) for i in range(3)],
        start_epoch=START,
        last_t=-1,
    )
    client = Client()
    client.force_login(alice)

    page = client.get(reverse("runs-detail", args=[run.pk])).content.decode()

    assert 'id="fig-generators-rps"' in page and 'id="fig-generators-cpu"' in page
    assert "Generator 1 reached 99% CPU (3 s above 90%)" in page
    assert "Generator 0 reached" not in page
    assert 'id="run-generators">2' in page


def test_a_single_process_run_page_has_no_generator_section(make_plan: Any, alice: Any) -> None:
    run = _run(make_plan, generators=1)
    client = Client()
    client.force_login(alice)
    page = client.get(reverse("runs-detail", args=[run.pk])).content.decode()
    assert 'id="generators"' not in page
    assert LoadProfile.objects.count() == 1


def test_a_plan_form_without_generators_means_one(make_plan: Any) -> None:
    plan = make_plan(URL, generators=3)
    data = _plan_data(plan)
    del data["generators"]
    form = TestPlanForm(data, instance=plan, team=plan.team)
    assert form.is_valid(), form.errors
    assert form.save().generators == 1
