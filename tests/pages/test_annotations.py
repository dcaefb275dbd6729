"""Run annotations on the pages: editors set version, tags and notes; the run list filters on
them (and on plan and trigger) with its query count unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from runs.models import Run, TestPlan
from runs.services import catalog
from tests.pages.conftest import HOSTILE, make_run

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_an_editor_sets_version_tags_and_notes_and_they_show_on_the_run_page(
    finished_run: Run, bob: Any
) -> None:
    c = client_for(bob)
    url = reverse("runs-annotate", args=[finished_run.pk])
    response = c.post(
        url, {"version": "v1.4 " + HOSTILE, "tags": "Before-Deploy, db_v2", "notes": "after " + HOSTILE}
    )
    assert response.status_code == 302 and response["Location"] == finished_run.get_absolute_url()
    finished_run.refresh_from_db()
    assert (finished_run.version, finished_run.tags) == ("v1.4 " + HOSTILE, ["before-deploy", "db_v2"])
    body = c.get(finished_run.get_absolute_url()).content.decode()
    assert HOSTILE not in body
    annotations = body.split('id="run-annotations"')[1].split("</section>")[0]
    assert "v1.4 &lt;img" in annotations and "after &lt;img" in annotations
    assert f'href="{reverse("runs-list")}?tag=before-deploy"' in annotations


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"tags": "ok, bad tag!"}, "Invalid tag “tag!”"),
        ({"tags": ",".join(f"t{i}" for i in range(11))}, "At most 10 tags"),
        ({"version": "v" * 101}, "at most 100 characters"),
    ],
)
def test_invalid_annotations_are_explained_and_change_nothing(
    alice_client: Client, finished_run: Run, data: dict[str, str], message: str
) -> None:
    Run.objects.filter(pk=finished_run.pk).update(version="v1", tags=["keep"], notes="keep")
    response = alice_client.post(reverse("runs-annotate", args=[finished_run.pk]), {"notes": "new", **data})
    assert response.status_code == 400
    assert message in response.content.decode()
    finished_run.refresh_from_db()
    assert (finished_run.version, finished_run.tags, finished_run.notes) == ("v1", ["keep"], "keep")


def test_viewers_cannot_annotate_and_the_post_needs_csrf(alice: Any, finished_run: Run, victor: Any) -> None:
    url = reverse("runs-annotate", args=[finished_run.pk])
    assert client_for(victor).post(url, {"tags": "x"}).status_code == 403
    assert (
        'id="annotate-form"' not in client_for(victor).get(finished_run.get_absolute_url()).content.decode()
    )
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(url, {"tags": "x"}).status_code == 403
    finished_run.refresh_from_db()
    assert finished_run.tags == []


def test_the_run_list_filters_by_tag_version_plan_and_trigger_with_its_pinned_query_count(
    alice: Any, alice_client: Client, seeded_plan: TestPlan, django_assert_num_queries: Any
) -> None:
    other_plan = catalog.plan_create(
        team=seeded_plan.team,
        data={
            "name": "Other",
            "target": seeded_plan.target,
            "scenario": seeded_plan.scenario,
            "profile": seeded_plan.profile,
        },
        user=alice,
    )
    a = make_run(seeded_plan, name="run-a", tags=["before-deploy", "db"], version="v1.4")
    b = make_run(seeded_plan, name="run-b", tags=["before-deploy-2"], version="v1.4", trigger="scheduled")
    c = make_run(other_plan, name="run-c", tags=["axb"], version="v1.5")
    d = make_run(seeded_plan, name="run-d", tags=["before-deploy"], version="v1.5", trigger="ci")
    url = reverse("runs-list")
    alice_client.get(url)  # warm the session

    def listed(queries: int = 5, **params: Any) -> list[int]:
        # session, user, the user's teams, count, page of runs (none when the count is 0).
        with django_assert_num_queries(queries):
            response = alice_client.get(url, params)
        assert response.status_code == 200
        return [r.pk for r in response.context["runs"]]

    assert listed(tag="before-deploy") == [d.pk, a.pk]  # an element, not a substring
    assert listed(tag="Before-Deploy", version="v1.4") == [a.pk]
    assert listed(4, tag="a_b") == []  # "_" is not a wildcard
    assert listed(version="v1.5") == [d.pk, c.pk]
    assert listed(plan=other_plan.pk) == [c.pk]
    assert listed(trigger="scheduled") == [b.pk]
    assert listed() == [d.pk, c.pk, b.pk, a.pk]
    body = alice_client.get(url, {"tag": "before-deploy"}).content.decode()
    assert '<a class="badge tag" href="/runs/?tag=db">db</a>' in body and ">CI</span>" in body
    response = alice_client.get(url, {"tag": "<b>", "trigger": "cron"})
    assert response.status_code == 400
    assert (
        "Tags use lower-case letters" in response.content.decode() and "<b>" not in response.content.decode()
    )


def test_the_start_form_takes_version_tags_and_notes(alice_client: Client, seeded_plan: TestPlan) -> None:
    url = reverse("runs-plan-start", args=[seeded_plan.pk])
    response = alice_client.post(url, {"version": "abc123", "tags": "bad tag!"}, follow=True)
    assert "Not started" in response.content.decode() and not Run.objects.exists()
    alice_client.post(url, {"version": "abc123", "tags": "nightly", "notes": "first"})
    run = Run.objects.get()
    assert (run.version, run.tags, run.notes, run.trigger) == ("abc123", ["nightly"], "first", "manual")
    alice_client.post(url)  # all optional
    assert Run.objects.count() == 2
