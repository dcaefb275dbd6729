"""Generator capacity before a distributed run starts, and each generator's share on the run page.

The capacity is asked of real Celery workers over the test session's broker (Redis): the
session's generator worker (``generator_worker``: two pool processes on the session's generator
queue), or nobody (a queue no worker consumes). The refusal is checked on every start path:
the service, the Start button, the API (which the remote CI client uses) and `manage.py ci_run`.
"""

from __future__ import annotations

import re
import socket
import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from runs.models import GeneratorSecond, Run, RunGenerator
from runs.services.generators import (
    GeneratorsUnavailable,
    generator_joined,
    generators_capacity,
    generators_require,
    run_generator_shares,
)
from runs.services.runs import RunError, run_create
from tests.api.conftest import api_for

URL = "http://127.0.0.1:9"


@pytest.fixture
def nobody_consumes(settings: Any) -> str:
    settings.SCALETEST_GENERATOR_QUEUE = f"scaletest-test-nobody-{uuid.uuid4().hex[:8]}"
    return settings.SCALETEST_GENERATOR_QUEUE


def test_the_session_generator_worker_is_counted_with_its_pool(db: None, generator_worker: Any) -> None:
    capacity = generators_capacity(refresh=True)
    assert not capacity.error
    node = generator_worker.hostname.replace("%h", socket.gethostname())
    # Other suites' workers share this Redis: only the ones on this session's queue count.
    assert [(w.node, w.slots) for w in capacity.workers] == [(node, 2)]
    assert capacity.connected == capacity.available == 2 and capacity.in_use == 0
    generators_require(generators=2)  # enough: no refusal


def test_a_plan_asking_for_more_generators_than_are_connected_is_refused_at_start_on_every_path(
    db: None, generator_worker: Any, make_plan: Any, alice: Any
) -> None:
    plan = make_plan(URL, generators=3, owner=alice)
    expected = re.escape(
        f"This plan needs 3 load generators on the queue “{generator_worker.queue}”, but only 2 are connected"
    )
    with pytest.raises(RunError, match=expected) as refused:
        run_create(plan=plan, user=alice)
    assert "No load was sent." in str(refused.value) and "--generators 3" in str(refused.value)
    assert isinstance(refused.value.__cause__, GeneratorsUnavailable)

    # The API (and so the CI clients): 409, refused now, with the same message.
    api = api_for(alice).post(f"/plans/{plan.pk}/runs")
    assert api.status_code == 409 and re.search(expected, api.json()["detail"]), api.content

    # The Start button: back on the plan with the message.
    client = Client()
    client.force_login(alice)
    page = client.post(reverse("runs-plan-start", args=[plan.pk]), follow=True)
    assert page.redirect_chain[-1][0] == plan.get_absolute_url()
    assert re.search(expected, page.content.decode())
    # The plan page says it before anyone presses Start.
    detail = client.get(plan.get_absolute_url()).content.decode()
    assert "This plan needs 3: starting it is refused until enough are connected." in detail

    # `manage.py ci_run` (the local CI path): exit code 2, the same message.
    from io import StringIO

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    get_user_model().objects.create_superuser("root", "root@example.com", "root-password-123")
    out = StringIO()
    with pytest.raises(SystemExit) as ci:
        call_command("ci_run", str(plan.pk), stdout=out, stderr=out)
    assert ci.value.code == 2 and re.search(expected, out.getvalue()), out.getvalue()

    assert not Run.objects.exists()


def test_with_no_generator_connected_a_distributed_start_is_refused_and_one_generator_is_not_asked(
    db: None, nobody_consumes: str, make_plan: Any, alice: Any
) -> None:
    capacity = generators_capacity(refresh=True)
    assert capacity.connected == 0 and not capacity.error
    plan = make_plan(URL, generators=2, owner=alice)
    with pytest.raises(RunError, match=f"“{nobody_consumes}”, but none is connected"):
        run_create(plan=plan, user=alice)
    assert not Run.objects.exists()
    generators_require(generators=1)  # one generator runs in the run's own process


def test_the_plan_form_shows_the_generators_available_now(
    db: None, generator_worker: Any, make_plan: Any, alice: Any
) -> None:
    plan = make_plan(URL, generators=2, owner=alice)
    # A running distributed run holds two of them.
    Run.objects.create(
        team=plan.team, plan=plan, plan_name=plan.name, snapshot={}, generators=2, status=Run.Status.RUNNING
    )
    client = Client()
    client.force_login(alice)
    for url in (reverse("runs-plan-create"), reverse("runs-plan-edit", args=[plan.pk])):
        page = client.get(url).content.decode()
        assert 'id="generators-available-count">0</strong> of 2 connected' in page, url
        assert "2 in use by running runs, 0 free now." in page
    Run.objects.update(status=Run.Status.FINISHED)
    page = client.get(reverse("runs-plan-create")).content.decode()
    assert 'id="generators-available-count">2</strong> of 2 connected' in page


# -- each generator's share, CPU and host -------------------------------------------------------
def test_the_run_page_shows_each_generators_share_cpu_and_host_and_a_saturated_one_on_the_summary(
    db: None, make_plan: Any, alice: Any
) -> None:
    plan = make_plan(URL, generators=2, owner=alice)
    run = Run.objects.create(
        team=plan.team,
        plan=plan,
        plan_name=plan.name,
        snapshot={},
        generators=2,
        status=Run.Status.FINISHED,
        total_requests=400,
    )
    for t in range(4):
        GeneratorSecond.objects.create(run=run, generator=0, t=t, requests=70, cpu_percent=40.0 + t)
        GeneratorSecond.objects.create(
            run=run, generator=1, t=t, requests=30, failures=1, cpu_percent=[50, 95, 97, 60][t]
        )
    generator_joined(run_id=run.pk, index=0)
    RunGenerator.objects.create(run=run, generator=1, host="gen-host-2")

    shares = run_generator_shares(run=run, cpu_limit=90.0)
    assert [(s.generator, s.host, s.requests, s.failures, s.share_percent) for s in shares] == [
        (0, socket.gethostname(), 280, 0, 70.0),
        (1, "gen-host-2", 120, 4, 30.0),
    ]
    assert [(s.cpu_max, s.seconds_over, s.saturated) for s in shares] == [(43.0, 0, False), (97.0, 2, True)]
    assert shares[0].cpu_mean == pytest.approx(41.5)

    client = Client()
    client.force_login(alice)
    page = client.get(run.get_absolute_url()).content.decode()
    found = re.search(r'<tr id="generator-share-1">(.*?)</tr>', page, re.S)
    assert found is not None
    row = found.group(1)
    assert re.findall(r"<td[^>]*>([^<]*)</td>", row) == [
        "1",
        "gen-host-2",
        "120",
        "30.0 %",
        "4",
        "76 %",
        "97 %",
    ]
    assert f'<td class="mono">{socket.gethostname()}</td>' in page
    summary = page[page.index('id="summary"') : page.index('id="chart-rps"')]
    assert "generator 1 on gen-host-2 was above 90% CPU for 2 s (peak 97%)" in summary
    assert 'id="summary-generator-cpu-0"' not in page


def test_a_generator_that_never_reported_is_listed_with_nothing(db: None, make_plan: Any) -> None:
    plan = make_plan(URL, generators=3)
    run = Run.objects.create(team=plan.team, plan=plan, plan_name=plan.name, snapshot={}, generators=3)
    GeneratorSecond.objects.create(run=run, generator=0, t=0, requests=5, cpu_percent=10.0)
    shares = run_generator_shares(run=run, cpu_limit=90.0)
    assert [(s.generator, s.requests, s.share_percent, s.cpu_max, s.host) for s in shares] == [
        (0, 5, 100.0, 10.0, ""),
        (1, 0, 0.0, None, ""),
        (2, 0, 0.0, None, ""),
    ]
    assert run_generator_shares(run=Run(generators=1), cpu_limit=90.0) == []
