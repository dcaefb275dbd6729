"""The audit trail: each security-relevant action, done the way people do it (pages, the API,
the admin, CI, beat's schedules), leaves one entry saying who, from where, how and on what; team
admins read their team's entries on a page and through the API, operators in the admin; old
entries are purged.

Alice is the admin of her team, Bob an editor in it, Carol the admin of another team and Olga
an operator (superuser).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from runs.models import AllowedNetwork, AuditEntry, Membership, Run, Team, TestPlan
from runs.services import audit
from runs.services.api_tokens import api_token_create
from runs.services.schedules import plan_set_schedule, schedules_start_due
from runs.tasks import purge_audit_entries
from tests.pages.conftest import make_run

pytestmark = pytest.mark.django_db

A = AuditEntry.Action
ALICE_ADDRESS = "203.0.113.10"


@pytest.fixture
def alice_client(alice: Any) -> Client:
    client = Client(REMOTE_ADDR=ALICE_ADDRESS)
    client.force_login(alice)
    return client


@pytest.fixture
def olga() -> Any:
    return get_user_model().objects.create_superuser(username="olga", email="", password="olga-password-123")


@pytest.fixture
def olga_client(olga: Any) -> Client:
    client = Client(REMOTE_ADDR="192.0.2.7")
    client.force_login(olga)
    return client


def only(action: str, **filters: Any) -> AuditEntry:
    entries = list(AuditEntry.objects.filter(action=action, **filters))
    assert len(entries) == 1, (action, entries)
    return entries[0]


def bearer(user: Any) -> dict[str, Any]:
    _, token = api_token_create(user=user, name="script")
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


# -- written by the services ----------------------------------------------------------------------
def test_share_links_made_and_revoked_on_the_pages_are_recorded(
    alice: Any, alice_client: Client, team: Team, make_plan: Any
) -> None:
    run = make_run(make_plan("http://127.0.0.1:9"))
    alice_client.post(reverse("runs-share", args=[run.pk]), {"label": "for the vendor"})
    made = only(A.SHARE_CREATE)
    assert (made.actor, made.address, made.via, made.team_id) == (alice, ALICE_ADDRESS, "page", team.pk)
    assert made.object_type == "sharelink" and made.details == {"kind": "run", "run": run.pk}
    alice_client.post(reverse("teams-share-revoke", args=[team.pk, made.object_id]))
    alice_client.post(reverse("teams-share-revoke", args=[team.pk, made.object_id]))  # twice: one entry
    revoked = only(A.SHARE_REVOKE)
    assert (revoked.actor, revoked.object_id) == (alice, made.object_id)


def test_api_tokens_made_and_revoked_are_recorded_without_the_token(alice: Any, alice_client: Client) -> None:
    page = alice_client.post(reverse("api-tokens"), {"name": "nightly CI", "expires_in_days": ""})
    token = page.context["new_token"]
    made = only(A.TOKEN_CREATE)
    assert (made.actor, made.via, made.team_id, made.details["user"]) == (alice, "page", None, "alice")
    assert token not in json.dumps(made.details) + made.object_label
    alice_client.post(reverse("api-token-revoke", args=[made.object_id]))
    assert only(A.TOKEN_REVOKE).object_id == made.object_id


def test_members_added_changed_and_removed_on_the_page_and_the_api_are_recorded(
    alice: Any, alice_client: Client, team: Team, bob: Any
) -> None:
    get_user_model().objects.create_user(username="dave", password="dave-password-123")
    alice_client.post(reverse("teams-detail", args=[team.pk]), {"username": "dave", "role": "viewer"})
    added = only(A.MEMBER_ADD)
    assert (added.via, added.team_id, added.details) == ("page", team.pk, {"user": "dave", "role": "viewer"})
    dave = Membership.objects.get(user__username="dave")
    api = Client(REMOTE_ADDR="198.51.100.77")
    answer = api.patch(
        f"/api/v1/teams/{team.pk}/members/{dave.pk}",
        data={"role": "editor"},
        content_type="application/json",
        **bearer(alice),
    )
    assert answer.status_code == 200
    role = only(A.MEMBER_ROLE)
    assert (role.actor, role.via, role.address) == (alice, "api", "198.51.100.77")
    assert role.details == {"from": "viewer", "to": "editor"}
    alice_client.post(reverse("teams-member", args=[team.pk, dave.pk]), {"remove": "1"})
    removed = only(A.MEMBER_REMOVE)
    assert (removed.object_id, removed.team_id, removed.via) == (str(dave.pk), team.pk, "page")
    # A refused change (the last admin stepping down) leaves no entry.
    mine = Membership.objects.get(user=alice)
    alice_client.post(reverse("teams-member", args=[team.pk, mine.pk]), {"role": "viewer"})
    assert AuditEntry.objects.filter(action=A.MEMBER_ROLE).count() == 1


def admin_change_data(client: Client, url: str) -> dict[str, Any]:
    """The admin change form's current values, as the browser would post them back."""
    page = client.get(url)
    assert page.status_code == 200
    data: dict[str, Any] = {}
    forms = [page.context["adminform"].form]
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update({f"{formset.prefix}-{k}": v for k, v in formset.management_form.initial.items()})
        forms.extend(formset.forms)
    for form in forms:
        for name, field in form.fields.items():
            value = form.initial.get(name, field.initial)
            if value is None:
                continue
            if hasattr(value, "pk"):
                value = value.pk
            if isinstance(value, bool):
                if value:
                    data[form.add_prefix(name)] = "on"
                continue
            data[form.add_prefix(name)] = value
    return data


def test_caps_locustfile_permission_and_members_changed_in_the_admin_are_recorded(
    olga: Any, olga_client: Client, team: Team, bob: Any
) -> None:
    url = reverse("admin:runs_team_change", args=[team.pk])
    data = admin_change_data(olga_client, url)
    data.update({"max_users": "50", "max_concurrent_runs": "2", "allow_locustfiles": "on"})
    bob_row = next(k for k, v in data.items() if k.endswith("-id") and v == bob.memberships.get().pk)
    data[bob_row.replace("-id", "-role")] = "admin"
    answer = olga_client.post(url, data)
    assert answer.status_code == 302, answer.context["adminform"].form.errors if answer.context else answer
    caps = only(A.TEAM_CAPS)
    assert (caps.actor, caps.via, caps.team_id, caps.address) == (olga, "admin", team.pk, "192.0.2.7")
    assert caps.details == {"max_users": [None, 50], "max_concurrent_runs": [None, 2]}
    assert only(A.TEAM_LOCUSTFILES).details == {"allow_locustfiles": True}
    role = only(A.MEMBER_ROLE)
    assert (role.via, role.details) == ("admin", {"from": "editor", "to": "admin"})
    # Saving again unchanged records nothing more.
    olga_client.post(url, admin_change_data(olga_client, url))
    assert AuditEntry.objects.filter(action__in=[A.TEAM_CAPS, A.TEAM_LOCUSTFILES, A.MEMBER_ROLE]).count() == 3


def test_allowlist_entries_added_changed_and_deleted_in_the_admin_are_recorded(
    olga: Any, olga_client: Client
) -> None:
    olga_client.post(reverse("admin:runs_allowednetwork_add"), {"value": "10.1.0.0/16", "note": "staging"})
    entry = AllowedNetwork.objects.get(value="10.1.0.0/16")
    assert only(A.ALLOWLIST_ADD).details == {"value": "10.1.0.0/16", "note": "staging"}
    change = reverse("admin:runs_allowednetwork_change", args=[entry.pk])
    olga_client.post(change, {"value": "10.2.0.0/16", "note": "staging"})
    assert only(A.ALLOWLIST_CHANGE).details["previous"] == "10.1.0.0/16"
    olga_client.post(reverse("admin:runs_allowednetwork_delete", args=[entry.pk]), {"post": "yes"})
    deleted = only(A.ALLOWLIST_DELETE)
    assert (deleted.actor, deleted.via, deleted.object_label) == (olga, "admin", "10.2.0.0/16")


def test_target_verification_is_recorded_with_its_outcome(
    alice: Any, alice_client: Client, make_plan: Any
) -> None:
    plan = make_plan("http://127.0.0.1:9")
    alice_client.post(reverse("runs-target-verify", args=[plan.target_id]))
    entry = only(A.TARGET_VERIFY)
    assert (entry.actor, entry.object_id, entry.team_id) == (alice, str(plan.target_id), plan.team_id)
    assert entry.details["verified"] is False and entry.details["error"]


def test_run_starts_and_cancels_record_who_and_how(
    alice: Any, alice_client: Client, bob: Any, make_plan: Any, target_server: str
) -> None:
    plan = make_plan(target_server)
    alice_client.post(reverse("runs-plan-start", args=[plan.pk]))
    by_page = only(A.RUN_START, via="page")
    assert (by_page.actor, by_page.address, by_page.team_id) == (alice, ALICE_ADDRESS, plan.team_id)
    api = Client(REMOTE_ADDR="198.51.100.9")
    for trigger in ("api", "ci"):
        answer = api.post(
            "/api/v1/runs",
            {"plan": plan.pk, "trigger": trigger},
            content_type="application/json",
            **bearer(bob),
        )
        assert answer.status_code == 201, answer.content
        entry = only(A.RUN_START, via=trigger)
        assert (entry.actor, entry.address) == (bob, "198.51.100.9")
    # Beat's schedule: no person, no address.
    plan_set_schedule(plan=plan, expression="* * * * *")
    TestPlan.objects.filter(pk=plan.pk).update(schedule_next_at=timezone.now() - timedelta(seconds=1))
    assert [o.run_id for o in schedules_start_due()][0] is not None
    scheduled = only(A.RUN_START, via="schedule")
    assert (scheduled.actor, scheduled.address) == (None, None)
    run = Run.objects.get(pk=by_page.object_id)
    alice_client.post(reverse("runs-cancel", args=[run.pk]))
    cancel = only(A.RUN_CANCEL)
    assert (cancel.actor, cancel.via, cancel.object_id) == (alice, "page", str(run.pk))
    api.post(f"/api/v1/runs/{scheduled.object_id}/cancel", **bearer(bob))
    assert only(A.RUN_CANCEL, via="api").actor == bob


def test_an_action_that_fails_leaves_no_entry(alice_client: Client, make_plan: Any) -> None:
    plan = make_plan("http://127.0.0.1:9")
    plan.scenario.steps.all().delete()
    alice_client.post(reverse("runs-plan-start", args=[plan.pk]))
    assert not AuditEntry.objects.filter(action=A.RUN_START).exists()


# -- reading ------------------------------------------------------------------------------------------
def seed_entries(team: Team, n: int) -> None:
    AuditEntry.objects.bulk_create(
        AuditEntry(action=A.MEMBER_ADD if i % 2 else A.SHARE_CREATE, actor_name=f"user{i % 3}", team=team)
        for i in range(n)
    )


def test_team_admins_read_and_filter_their_team_audit_page(
    alice_client: Client, team: Team, bob: Any, carol: Any, django_assert_max_num_queries: Any
) -> None:
    seed_entries(team, 70)
    seed_entries(Team.objects.get(memberships__user=carol), 5)
    url = reverse("teams-audit", args=[team.pk])
    with django_assert_max_num_queries(12):
        page = alice_client.get(url)
    assert page.status_code == 200
    assert len(page.context["page"]) == 50 and page.context["page"].paginator.count == 71  # + team.create
    second = alice_client.get(url + "?page=2")
    assert len(second.context["page"]) == 21
    filtered = alice_client.get(url + "?action=member.add&actor=user1")
    assert {e.action for e in filtered.context["page"]} == {"member.add"}
    assert {e.actor_name for e in filtered.context["page"]} == {"user1"}
    assert alice_client.get(url + "?action=nonsense").status_code == 400
    bob_client = Client()
    bob_client.force_login(bob)
    assert bob_client.get(url).status_code == 403  # editors do not read it
    carol_client = Client()
    carol_client.force_login(carol)
    assert carol_client.get(url).status_code == 404  # another team's: as if it did not exist
    assert b"team-audit-link" in alice_client.get(reverse("teams-detail", args=[team.pk])).content
    assert b"team-audit-link" not in bob_client.get(reverse("teams-detail", args=[team.pk])).content


def test_the_api_lists_a_team_audit_trail_for_its_admins_only(
    alice: Any, team: Team, bob: Any, carol: Any
) -> None:
    seed_entries(team, 7)
    api = Client()
    answer = api.get(f"/api/v1/audit?team={team.pk}&action=share.create&limit=2", **bearer(alice))
    assert answer.status_code == 200
    body = answer.json()
    assert body["count"] == 4 and len(body["items"]) == 2
    assert set(body["items"][0]) >= {
        "created_at",
        "action",
        "actor",
        "address",
        "via",
        "object_type",
        "details",
    }
    assert api.get(f"/api/v1/audit?team={team.pk}", **bearer(bob)).status_code == 403
    assert api.get(f"/api/v1/audit?team={team.pk}", **bearer(carol)).status_code == 404
    assert api.get(f"/api/v1/audit?team={team.pk}&action=nope", **bearer(alice)).status_code == 422
    assert api.get("/api/v1/audit", **bearer(alice)).status_code == 422


def test_operators_read_every_entry_in_the_admin_but_change_none(olga_client: Client, team: Team) -> None:
    seed_entries(team, 3)
    entry = AuditEntry.objects.first()
    assert entry is not None
    assert olga_client.get(reverse("admin:runs_auditentry_changelist")).status_code == 200
    assert olga_client.get(reverse("admin:runs_auditentry_change", args=[entry.pk])).status_code == 200
    assert olga_client.get(reverse("admin:runs_auditentry_add")).status_code == 403
    olga_client.post(reverse("admin:runs_auditentry_change", args=[entry.pk]), {"action": "run.start"})
    olga_client.post(reverse("admin:runs_auditentry_delete", args=[entry.pk]), {"post": "yes"})
    entry.refresh_from_db()
    assert entry.action != "run.start"


def test_entries_past_the_retention_are_purged(team: Team) -> None:
    seed_entries(team, 4)
    old = AuditEntry.objects.order_by("pk")[:2].values_list("pk", flat=True)
    AuditEntry.objects.filter(pk__in=list(old)).update(created_at=timezone.now() - timedelta(days=400))
    with override_settings(SCALETEST_AUDIT_RETENTION_DAYS=0):
        assert purge_audit_entries() == 0
    with override_settings(SCALETEST_AUDIT_RETENTION_DAYS=365):
        assert purge_audit_entries() == 2
    assert AuditEntry.objects.count() == 3  # two seeded, and the team's creation
    assert audit.audit_purge(retention_days=1, now=timezone.now() + timedelta(days=2)) == 3
