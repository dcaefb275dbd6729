"""Pinning a run through the API: editors only, audited; the series says its resolution."""

from __future__ import annotations

import pytest

from runs.models import AuditEntry, Run, TestPlan
from tests.api.conftest import ApiClient
from tests.pages.conftest import make_run

pytestmark = pytest.mark.django_db


def test_editors_pin_and_unpin_through_the_api_and_others_are_refused(
    bob_api: ApiClient, victor_api: ApiClient, carol_api: ApiClient, plan: TestPlan, finished_run: Run
) -> None:
    url = f"/runs/{finished_run.pk}/pin"
    assert victor_api.post(url, {"pinned": True}).status_code == 403
    assert carol_api.post(url, {"pinned": True}).status_code == 404
    assert Run.objects.get(pk=finished_run.pk).pinned is False

    response = bob_api.post(url, {"pinned": True})
    assert response.status_code == 200, response.content
    assert (response.json()["pinned"], response.json()["resolution_s"]) == (True, 1)
    assert bob_api.get(f"/runs/{finished_run.pk}").json()["pinned"] is True
    entry = AuditEntry.objects.get(action="run.pin")
    assert (entry.via, entry.details["pinned"]) == ("api", True)

    assert bob_api.post(url, {"pinned": False}).json()["pinned"] is False
    assert Run.objects.get(pk=finished_run.pk).pinned is False
    assert bob_api.post(url, {}).status_code in (400, 422)

    running = make_run(plan, status=Run.Status.RUNNING)
    refused = bob_api.post(f"/runs/{running.pk}/pin", {"pinned": True})
    assert refused.status_code == 409 and "only an ended run" in refused.json()["detail"]


def test_the_series_says_how_many_seconds_a_point_stands_for(bob_api: ApiClient, finished_run: Run) -> None:
    assert bob_api.get(f"/runs/{finished_run.pk}/series").json()["interval_seconds"] == 1
