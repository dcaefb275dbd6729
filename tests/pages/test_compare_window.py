"""Zooming into the comparison overlays: the visible window at full resolution."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from runs.figures.analysis import MAX_POINTS
from runs.models import RunSecond
from runs.services.teams import team_create
from tests.conftest import make_user
from tests.pages.test_analysis_pages import make_staircase_plan, seed_run

pytestmark = pytest.mark.django_db

URL = reverse("runs-compare-window")


@pytest.fixture(scope="module")
def seeded(django_db_setup: None, django_db_blocker: Any) -> Iterator[tuple[Any, list[int]]]:
    """Alice and two long runs, committed once for the module: its tests only read them (what
    a test writes is rolled back as usual), and building 2 × 2000 seconds of histograms took
    most of each test's time. Flushed after the module's last test, as transactional tests do."""
    with django_db_blocker.unblock():
        alice = make_user("alice")
        team_create(name="Alice's team", user=alice)
        plan = make_staircase_plan(alice)
        # 5 steps x 400 s = 2000 s per run: more seconds than the overlays draw per trace.
        ids = [seed_run(plan, step_seconds=400, seed=s).pk for s in (1, 2)]
    yield alice, ids
    with django_db_blocker.unblock():
        call_command("flush", verbosity=0, interactive=False)


@pytest.fixture
def long_runs(seeded: tuple[Any, list[int]]) -> list[int]:
    return seeded[1]


@pytest.fixture
def alice_client(seeded: tuple[Any, list[int]]) -> Client:
    c = Client()
    c.force_login(seeded[0])
    return c


def test_a_zoomed_window_comes_back_at_full_resolution(alice_client: Client, long_runs: list[int]) -> None:
    ids = ",".join(map(str, long_runs))
    page = alice_client.get(reverse("runs-compare"), {"ids": ids})
    assert f'data-window-url="{URL}?ids={ids}"' in page.content.decode()

    response = alice_client.get(URL, {"ids": ids, "from": "100", "to": "300"})
    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"rps", "p95", "error_pct"}
    for i, run_id in enumerate(long_runs):
        stored = list(
            RunSecond.objects.filter(run_id=run_id, t__gte=100, t__lte=300)
            .order_by("t")
            .values_list("t", "requests")
        )
        assert data["rps"]["x"][i] == [t for t, _ in stored] == list(range(100, 301))
        assert data["rps"]["y"][i] == [r for _, r in stored]
        assert len(data["p95"]["y"][i]) == 201


def test_the_whole_range_stays_downsampled_with_its_peaks(alice_client: Client, long_runs: list[int]) -> None:
    ids = ",".join(map(str, long_runs))
    data = alice_client.get(URL, {"ids": ids, "from": "0", "to": "5000"}).json()
    peak = max(RunSecond.objects.filter(run_id=long_runs[0]).values_list("requests", flat=True))
    assert len(data["rps"]["x"][0]) <= MAX_POINTS < 2000
    assert max(data["rps"]["y"][0]) == peak


@pytest.mark.parametrize(
    ("params", "field"),
    [({"from": 300, "to": 100}, "end"), ({"to": 100}, "start"), ({"from": -5, "to": 10}, "start")],
)
def test_a_bad_window_is_a_400_with_the_reason(
    alice_client: Client, long_runs: list[int], params: dict, field: str
) -> None:
    response = alice_client.get(URL, {"ids": ",".join(map(str, long_runs)), **params})
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_a_missing_run_is_a_404_and_anonymous_users_are_sent_to_login(
    client: Client, alice_client: Client, long_runs: list[int]
) -> None:
    assert (
        alice_client.get(URL, {"ids": f"{long_runs[0]},999999", "from": "0", "to": "10"}).status_code == 404
    )
    response = client.get(URL, {"ids": ",".join(map(str, long_runs)), "from": "0", "to": "10"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
