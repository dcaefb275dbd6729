"""Share links: alice (admin) shares; anyone with the link reads that run or comparison only.

bob (editor) and victor (viewer) cannot make or revoke links; carol (another team) sees the
shared page through the link but still gets a 404 on the normal URL.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from runs.models import Run, RunSecond, ShareLink, TestPlan
from tests.pages.conftest import HOSTILE, make_run
from tests.pages.test_analysis_pages import seed_run, staircase_plan  # noqa: F401 - fixture
from tests.pages.test_pages import json_script

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def created_url(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    match = re.search(r'id="share-url" type="text" readonly value="([^"]+)"', response.content.decode())
    assert match, "the new link is shown on the page"
    return match.group(1)


def token_of(url: str) -> str:
    match = re.search(r"/s/([^/]+)/$", url)
    assert match, url
    return match.group(1)


def share_run(c: Client, run: Run, **data: Any) -> str:
    return token_of(created_url(c.post(reverse("runs-share", args=[run.pk]), data)))


def links_and_forms(body: str) -> tuple[list[str], list[str]]:
    """Links other than static files and the link's own downloads (under its /s/<token>/),
    and forms."""
    hrefs = re.findall(r'(?:href|src)="([^"]*)"', body)
    token = re.search(r'href="/s/([^/"]+)/report\.html"', body)
    own = f"/s/{token.group(1)}/" if token else "/s/-none-/"
    return [h for h in hrefs if not h.startswith(("/static/", "data:", own))], re.findall(
        r"<form\b[^>]*>", body
    )


def assert_shared_headers(response: Any) -> None:
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["X-Robots-Tag"].startswith("noindex")
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


# --- a run link ------------------------------------------------------------------------------------
def test_a_run_link_shows_exactly_that_run_read_only_to_a_visitor_without_an_account(
    alice_client: Client, seeded_plan: TestPlan, finished_run: Run
) -> None:
    other = make_run(seeded_plan, name="Other run", total_requests=7)
    Run.objects.filter(pk=finished_run.pk).update(
        version="v1.4 " + HOSTILE, tags=["before-deploy"], notes="n " + HOSTILE
    )
    seeded_plan.baseline_run = other
    seeded_plan.save()
    normal = alice_client.get(reverse("runs-detail", args=[finished_run.pk])).content.decode()
    assert 'id="share-form"' in normal and "&quot;id&quot;: 1" in normal  # the step body, on the team's page

    token = share_run(alice_client, finished_run, label="for " + HOSTILE, expires_in_days="7")
    response = Client().get(reverse("share-page", args=[token]))
    assert response.status_code == 200
    assert_shared_headers(response)
    body = response.content.decode()
    assert f"Run #{finished_run.pk}" in body and "22.5 ms" in body and "HTTPError" in body
    assert HOSTILE not in body and "&lt;img src=x onerror=alert(1)&gt;" in body
    assert "v1.4 &lt;img" in body and "before-deploy" in body
    # Nothing else: no link, no form, no other run, no team, no secrets of the steps.
    hrefs, forms = links_and_forms(body)
    assert hrefs == [] and forms == []
    for text in (
        f"#{other.pk}<",
        f"/runs/{other.pk}/",
        "Other run",
        "Alice's team",
        "alice",
        "csrfmiddlewaretoken",
        "baseline-verdict",
        "&quot;id&quot;: 1",
        "Share…",
        "Cancel run",
        "Mark as baseline",
    ):
        assert text not in body, text
    assert "headers and body not shared" in body
    live = json_script(response, "live-config")
    assert live["url"] == reverse("share-live", args=[token]) and live["tables_url"] == reverse(
        "share-tables", args=[token]
    )
    share = ShareLink.objects.get()
    assert (share.kind, share.run_id, share.view_count) == ("run", finished_run.pk, 1)
    assert share.expires_at is not None and share.expires_at > timezone.now() + timedelta(days=6)


def test_the_token_is_long_random_and_never_stored_in_clear(alice_client: Client, finished_run: Run) -> None:
    tokens = [share_run(alice_client, finished_run) for _ in range(2)]
    assert tokens[0] != tokens[1] and all(len(t) >= 43 for t in tokens)  # token_urlsafe(32): 256 bits
    for token in tokens:
        assert ShareLink.objects.filter(token_hash=hashlib.sha256(token.encode()).hexdigest()).exists()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ShareLink._meta.db_table}")
        dump = repr(cursor.fetchall())
    assert not any(token in dump for token in tokens)


def test_the_live_endpoints_of_a_shared_running_run_serve_that_run_only(
    alice_client: Client, seeded_plan: TestPlan
) -> None:
    running = make_run(seeded_plan, status=Run.Status.RUNNING, last_t=1, total_requests=40)
    for t in range(2):
        RunSecond.objects.create(run=running, t=t, users=3, requests=20, failures=0, p95_ms=20)
    token = share_run(alice_client, running)
    page = Client().get(reverse("share-page", args=[token]))
    assert json_script(page, "live-config")["active"] is True
    live = Client().get(reverse("share-live", args=[token]), {"after": 0})
    assert live.status_code == 200
    assert_shared_headers(live)
    assert live.json()["status"] == "running" and live.json()["total_requests"] == 40
    tables = Client().get(reverse("share-tables", args=[token]))
    assert tables.status_code == 200 and links_and_forms(tables.content.decode()) == ([], [])
    # Polling is not counted as views.
    assert ShareLink.objects.get().view_count == 1


# --- links that do not work ------------------------------------------------------------------------
def test_revoked_expired_and_unknown_links_all_get_the_same_404(
    alice_client: Client, finished_run: Run
) -> None:
    unknown = Client().get(reverse("share-page", args=["x" * 43]))
    assert unknown.status_code == 404
    assert_shared_headers(unknown)
    assert Client().get("/s/:key/").content == unknown.content  # CVE-2021-39226's literal key

    revoked = share_run(alice_client, finished_run)
    expired = share_run(alice_client, finished_run)
    for token in (revoked, expired):
        assert Client().get(reverse("share-page", args=[token])).status_code == 200
    share = ShareLink.objects.get(token_hash=hashlib.sha256(revoked.encode()).hexdigest())
    response = alice_client.post(reverse("teams-share-revoke", args=[share.team_id, share.pk]))
    assert response.status_code == 302
    ShareLink.objects.filter(token_hash=hashlib.sha256(expired.encode()).hexdigest()).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    for token in (revoked, expired):
        for name in (
            "share-page",
            "share-live",
            "share-tables",
            "share-export-csv",
            "share-export-json",
            "share-report",
        ):
            response = Client().get(reverse(name, args=[token]))
            assert response.status_code == 404, (name, token)
            assert response.content == unknown.content
            assert_shared_headers(response)
    listing = alice_client.get(reverse("teams-shares", args=[share.team_id])).content.decode()
    assert "revoked" in listing and "expired" in listing


def test_carol_reads_the_run_through_the_link_but_not_through_its_url(
    alice_client: Client, finished_run: Run, carol: Any
) -> None:
    token = share_run(alice_client, finished_run)
    c = client_for(carol)
    assert c.get(reverse("runs-detail", args=[finished_run.pk])).status_code == 404
    shared = c.get(reverse("share-page", args=[token]))
    assert shared.status_code == 200 and f"Run #{finished_run.pk}" in shared.content.decode()
    # Logged in or not, the shared page names no team and offers nothing to do.
    assert "Carol's team" not in shared.content.decode()
    assert links_and_forms(shared.content.decode()) == ([], [])


# --- a comparison link -----------------------------------------------------------------------------
def test_a_compare_link_shows_its_runs_and_cannot_be_used_to_reach_another_run(
    alice_client: Client,
    staircase_plan: TestPlan,  # noqa: F811 - the fixture imported above
) -> None:
    a = seed_run(staircase_plan, seed=1)
    b = seed_run(staircase_plan, seed=2)
    outside = seed_run(staircase_plan, seed=3, name="Outside run")
    Run.objects.filter(pk=b.pk).update(version="v2 " + HOSTILE)
    compare_page = alice_client.get(reverse("runs-compare"), {"ids": f"{a.pk},{b.pk}", "baseline": str(b.pk)})
    assert 'id="share-form"' in compare_page.content.decode()
    token = token_of(
        created_url(
            alice_client.post(
                reverse("runs-compare-share"), {"ids": f"{a.pk},{b.pk}", "baseline": b.pk, "label": "A vs B"}
            )
        )
    )
    share = ShareLink.objects.get()
    assert (share.kind, share.run_ids, share.baseline_id) == ("compare", [a.pk, b.pk], b.pk)

    # Query parameters do not change what the page shows.
    response = Client().get(
        reverse("share-page", args=[token]), {"ids": f"{a.pk},{outside.pk}", "baseline": str(outside.pk)}
    )
    assert response.status_code == 200
    assert_shared_headers(response)
    body = response.content.decode()
    assert (
        f'data-run="{a.pk}"' in body
        and f'data-run="{b.pk}"' in body
        and f'data-run="{outside.pk}"' not in body
    )
    assert "Outside run" not in body
    hrefs, forms = links_and_forms(body)
    assert hrefs == [] and forms == []
    window_url = f"{reverse('share-window', args=[token])}?ids={a.pk},{b.pk}"
    assert f'data-window-url="{window_url}"' in body
    rps = json_script(response, "fig-cmp-rps")
    assert rps["data"][1]["name"].endswith("v2 &lt;img src=x onerror=alert(1)&gt;")

    window = Client().get(
        reverse("share-window", args=[token]), {"ids": f"{a.pk},{b.pk}", "from": "0", "to": "20"}
    )
    assert window.status_code == 200 and len(window.json()["rps"]["x"]) == 2
    assert_shared_headers(window)
    for ids in (
        f"{a.pk},{outside.pk}",
        f"{outside.pk},{a.pk}",
        f"{a.pk},{b.pk},{outside.pk}",
        f"{b.pk},{a.pk}",
    ):
        tampered = Client().get(reverse("share-window", args=[token]), {"ids": ids, "from": "0", "to": "20"})
        assert tampered.status_code == 404, ids
    # A comparison link is not a run link.
    assert Client().get(reverse("share-live", args=[token])).status_code == 404


def test_a_compare_link_needs_runs_of_one_team_the_user_administers(
    alice_client: Client, seeded_plan: TestPlan, finished_run: Run, carol: Any, bob: Any, make_plan: Any
) -> None:
    from runs.models import Team

    other = make_run(seeded_plan)
    theirs = make_run(
        make_plan("http://127.0.0.1:9", team=Team.objects.get(memberships__user=carol), name="Carol plan")
    )
    response = alice_client.post(reverse("runs-compare-share"), {"ids": f"{finished_run.pk},{theirs.pk}"})
    assert response.status_code == 404
    response = client_for(bob).post(reverse("runs-compare-share"), {"ids": f"{finished_run.pk},{other.pk}"})
    assert response.status_code == 403
    assert not ShareLink.objects.exists()


# --- who may make and revoke links -----------------------------------------------------------------
def test_only_team_admins_make_and_revoke_links(
    alice_client: Client, finished_run: Run, bob: Any, victor: Any, carol: Any
) -> None:
    for user in (bob, victor):
        assert client_for(user).post(reverse("runs-share", args=[finished_run.pk])).status_code == 403
    assert client_for(carol).post(reverse("runs-share", args=[finished_run.pk])).status_code == 404
    assert not ShareLink.objects.exists()
    share_run(alice_client, finished_run, label="the release")
    share = ShareLink.objects.get()
    revoke = reverse("teams-share-revoke", args=[share.team_id, share.pk])
    for user in (bob, victor):
        assert client_for(user).post(revoke).status_code == 403
    assert client_for(carol).post(revoke).status_code == 404
    share.refresh_from_db()
    assert share.revoked_at is None
    # Members see what is shared; only admins get revoke buttons and share buttons.
    listing = client_for(victor).get(reverse("teams-shares", args=[share.team_id])).content.decode()
    assert "the release" in listing and revoke not in listing
    assert revoke in alice_client.get(reverse("teams-shares", args=[share.team_id])).content.decode()
    assert client_for(carol).get(reverse("teams-shares", args=[share.team_id])).status_code == 404
    assert (
        'id="share-form"'
        not in client_for(bob).get(reverse("runs-detail", args=[finished_run.pk])).content.decode()
    )


def test_bad_expiry_is_refused_and_nothing_is_made(alice_client: Client, finished_run: Run) -> None:
    for days in ("0", "366", "soon"):
        response = alice_client.post(
            reverse("runs-share", args=[finished_run.pk]), {"expires_in_days": days}, follow=True
        )
        assert "365" in response.content.decode() or "whole number" in response.content.decode(), days
    assert not ShareLink.objects.exists()


def test_making_and_revoking_links_need_a_csrf_token(
    alice: Any, alice_client: Client, finished_run: Run
) -> None:
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(reverse("runs-share", args=[finished_run.pk]), {"label": "x"}).status_code == 403
    assert (
        strict.post(
            reverse("runs-compare-share"), {"ids": f"{finished_run.pk},{finished_run.pk + 1}"}
        ).status_code
        == 403
    )
    assert not ShareLink.objects.exists()
    share_run(alice_client, finished_run)
    share = ShareLink.objects.get()
    assert strict.post(reverse("teams-share-revoke", args=[share.team_id, share.pk])).status_code == 403
    share.refresh_from_db()
    assert share.revoked_at is None


def test_a_run_link_downloads_that_runs_exports_and_nothing_else(
    alice_client: Client, finished_run: Run, seeded_plan: Any
) -> None:
    token = share_run(alice_client, finished_run)
    visitor = Client()
    page = visitor.get(reverse("share-page", args=[token])).content.decode()
    for name in ("share-export-csv", "share-export-json", "share-report"):
        assert f'href="{reverse(name, args=[token])}" download' in page
        response = visitor.get(reverse(name, args=[token]))
        assert response.status_code == 200, name
        assert_shared_headers(response)
        assert f"scaletest-run-{finished_run.pk}-" in response["Content-Disposition"]
    report = visitor.get(reverse("share-report", args=[token])).content.decode()
    assert f"Run #{finished_run.pk}" in report
    # A compare link has no run downloads.
    other = make_run(seeded_plan)
    compare = token_of(
        created_url(
            alice_client.post(reverse("runs-compare-share"), {"ids": f"{finished_run.pk},{other.pk}"})
        )
    )
    assert visitor.get(reverse("share-report", args=[compare])).status_code == 404
