"""Teams: alice owns the objects, bob edits on her team, victor only reads, carol is elsewhere.

Another team's object is a 404 on every page that takes an id (the same answer as an id that
does not exist); too low a role in the object's own team is a 403; lists show the current team.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from runs.models import Membership, Run, Target, Team, TestPlan
from tests.pages.conftest import make_run


def client_for(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def object_urls(plan: TestPlan, run: Run) -> list[tuple[str, str]]:
    """(method, url) of every page that names one of alice's objects."""
    other = make_run(plan)
    return [
        ("get", reverse("runs-detail", args=[run.pk])),
        ("get", reverse("runs-live", args=[run.pk])),
        ("get", reverse("runs-tables", args=[run.pk])),
        ("post", reverse("runs-cancel", args=[run.pk])),
        ("post", reverse("runs-baseline", args=[run.pk])),
        ("get", f"{reverse('runs-compare')}?ids={run.pk},{other.pk}"),
        ("get", f"{reverse('runs-compare-window')}?ids={run.pk},{other.pk}&from=0&to=10"),
        ("get", reverse("runs-plan-detail", args=[plan.pk])),
        ("get", reverse("runs-plan-edit", args=[plan.pk])),
        ("get", reverse("runs-plan-delete", args=[plan.pk])),
        ("post", reverse("runs-plan-delete", args=[plan.pk])),
        ("post", reverse("runs-plan-start", args=[plan.pk])),
        ("get", reverse("runs-target-edit", args=[plan.target_id])),
        ("post", reverse("runs-target-delete", args=[plan.target_id])),
        ("get", reverse("runs-target-verify", args=[plan.target_id])),
        ("get", reverse("runs-scenario-edit", args=[plan.scenario_id])),
        ("post", reverse("runs-scenario-delete", args=[plan.scenario_id])),
        ("get", reverse("runs-profile-edit", args=[plan.profile_id])),
        ("post", reverse("runs-profile-delete", args=[plan.profile_id])),
        ("get", reverse("teams-detail", args=[plan.team_id])),
    ]


def test_another_teams_objects_are_404_on_every_page_and_nothing_changes(
    seeded_plan: TestPlan, finished_run: Run, carol: Any
) -> None:
    c = client_for(carol)
    for method, url in object_urls(seeded_plan, finished_run):
        response = getattr(c, method)(url)
        assert response.status_code == 404, (method, url, response.status_code)
    # Nothing of alice's was deleted, started, cancelled or made a baseline.
    assert TestPlan.objects.filter(pk=seeded_plan.pk, baseline_run__isnull=True).exists()
    assert Target.objects.filter(pk=seeded_plan.target_id).exists()
    assert Run.objects.filter(plan=seeded_plan).count() == 2


def test_lists_show_only_the_current_teams_objects(
    alice_client: Client, seeded_plan: TestPlan, finished_run: Run, carol: Any
) -> None:
    c = client_for(carol)
    for name in (
        "runs-dashboard",
        "runs-list",
        "runs-plan-list",
        "runs-target-list",
        "runs-scenario-list",
        "runs-profile-list",
    ):
        theirs = c.get(reverse(name)).content.decode()
        mine = alice_client.get(reverse(name)).content.decode()
        for text in ("Smoke", "Shop", "Browse", "Three for four"):
            assert text not in theirs, (name, text)
        assert any(text in mine for text in ("Smoke", "Shop", "Browse", "Three for four")), name


def test_a_viewer_reads_but_cannot_change_or_start_anything(
    seeded_plan: TestPlan, finished_run: Run, victor: Any
) -> None:
    c = client_for(victor)
    assert c.get(reverse("runs-detail", args=[finished_run.pk])).status_code == 200
    assert c.get(reverse("runs-plan-detail", args=[seeded_plan.pk])).status_code == 200
    for url in (
        reverse("runs-plan-start", args=[seeded_plan.pk]),
        reverse("runs-baseline", args=[finished_run.pk]),
        reverse("runs-plan-delete", args=[seeded_plan.pk]),
        reverse("runs-target-create"),
    ):
        assert c.post(url, {"name": "x", "base_url": "http://127.0.0.1:9"}).status_code == 403, url
    assert c.get(reverse("runs-target-edit", args=[seeded_plan.target_id])).status_code == 403
    assert Run.objects.filter(plan=seeded_plan).count() == 1
    assert Target.objects.count() == 1


def test_an_editor_starts_a_run_that_belongs_to_the_plans_team(seeded_plan: TestPlan, bob: Any) -> None:
    response = client_for(bob).post(reverse("runs-plan-start", args=[seeded_plan.pk]))
    run = Run.objects.get(plan=seeded_plan)
    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    assert run.team_id == seeded_plan.team_id and run.created_by == bob


def test_new_objects_go_to_the_current_team_and_switching_changes_the_lists(
    alice: Any, team: Team, carol: Any
) -> None:
    carols = Team.objects.get(memberships__user=carol)
    Membership.objects.create(team=carols, user=alice, role=Membership.Role.EDITOR)
    c = client_for(alice)
    # First team by name: "Alice's team".
    c.post(
        reverse("runs-target-create"),
        {
            "name": "Mine",
            "base_url": "http://127.0.0.1:9",
            "auth_type": "none",
            "timeout_seconds": "5",
            "headers": "{}",
            "verify_tls": "on",
        },
    )
    response = c.post(reverse("teams-switch"), {"team": carols.pk, "next": reverse("runs-target-list")})
    assert response.status_code == 302 and response["Location"] == reverse("runs-target-list")
    c.post(
        reverse("runs-target-create"),
        {
            "name": "Theirs",
            "base_url": "http://127.0.0.1:9",
            "auth_type": "none",
            "timeout_seconds": "5",
            "headers": "{}",
            "verify_tls": "on",
        },
    )
    assert Target.objects.get(name="Mine").team == team
    assert Target.objects.get(name="Theirs").team == carols
    listed = c.get(reverse("runs-target-list")).content.decode().split("<table", 1)[1]
    assert "Theirs" in listed and "Mine" not in listed
    # A team she is not in cannot be switched to; an outside "next" is not followed.
    other = Team.objects.create(name="Other")
    assert c.post(reverse("teams-switch"), {"team": other.pk}).status_code == 404
    response = c.post(reverse("teams-switch"), {"team": team.pk, "next": "https://evil.example/"})
    assert response["Location"] == reverse("runs-dashboard")


def test_a_plan_cannot_use_another_teams_target(
    alice_client: Client, seeded_plan: TestPlan, carol: Any
) -> None:
    from runs.services import catalog

    carols = Team.objects.get(memberships__user=carol)
    foreign = catalog.target_create(team=carols, data={"name": "Foreign", "base_url": "http://127.0.0.1:9"})
    response = alice_client.post(
        reverse("runs-plan-edit", args=[seeded_plan.pk]),
        {
            "name": "Smoke",
            "target": foreign.pk,
            "scenario": seeded_plan.scenario_id,
            "profile": seeded_plan.profile_id,
            "notes": "",
        },
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    seeded_plan.refresh_from_db()
    assert seeded_plan.target_id != foreign.pk
    with pytest.raises(catalog.CatalogError, match="belongs to another team"):
        catalog.plan_update(plan=seeded_plan, data={"target": foreign})


def test_a_user_without_a_team_is_sent_to_create_one_and_becomes_its_admin(db: None) -> None:
    from tests.conftest import make_user

    dave = make_user("dave")
    c = client_for(dave)
    response = c.get(reverse("runs-dashboard"))
    assert response.status_code == 302 and response["Location"] == reverse("teams-create")
    assert c.post(reverse("teams-create"), {"name": ""}).status_code == 200
    assert not Team.objects.filter(memberships__user=dave).exists()
    response = c.post(reverse("teams-create"), {"name": "Dave's team"})
    team = Team.objects.get(name="Dave's team")
    assert response["Location"] == reverse("teams-detail", args=[team.pk])
    assert Membership.objects.get(team=team, user=dave).role == Membership.Role.ADMIN
    assert c.get(reverse("runs-dashboard")).status_code == 200


def test_team_admins_manage_members_and_a_team_keeps_an_admin(
    alice: Any, team: Team, bob: Any, victor: Any
) -> None:
    admin = client_for(alice)
    url = reverse("teams-detail", args=[team.pk])
    # Viewers and editors see the members but cannot change them.
    assert "bob" in client_for(victor).get(url).content.decode()
    assert client_for(bob).post(url, {"username": "carol", "role": "admin"}).status_code == 403
    bob_m = Membership.objects.get(team=team, user=bob)
    assert (
        client_for(victor)
        .post(reverse("teams-member", args=[team.pk, bob_m.pk]), {"remove": "1"})
        .status_code
        == 403
    )

    response = admin.post(url, {"username": "nobody", "role": "viewer"})
    assert "There is no user “nobody”" in response.content.decode()
    admin.post(reverse("teams-member", args=[team.pk, bob_m.pk]), {"role": "admin"})
    assert Membership.objects.get(pk=bob_m.pk).role == "admin"
    admin.post(reverse("teams-member", args=[team.pk, bob_m.pk]), {"role": "superuser"})
    assert Membership.objects.get(pk=bob_m.pk).role == "admin"
    admin.post(reverse("teams-member", args=[team.pk, bob_m.pk]), {"remove": "1"})
    assert not Membership.objects.filter(pk=bob_m.pk).exists()
    # Alice is now the only admin: she cannot step down or leave.
    alice_m = Membership.objects.get(team=team, user=alice)
    response = admin.post(reverse("teams-member", args=[team.pk, alice_m.pk]), {"remove": "1"}, follow=True)
    assert "keeps at least one admin" in response.content.decode()
    admin.post(reverse("teams-member", args=[team.pk, alice_m.pk]), {"role": "viewer"})
    assert Membership.objects.get(pk=alice_m.pk).role == "admin"


@pytest.mark.parametrize("change", ["demote", "remove"])
def test_two_admins_stepping_down_at_once_leave_the_team_one_admin(
    transactional_db: None, alice: Any, team: Team, bob: Any, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    from runs.services import teams
    from tests.races import at_once, slowed

    Membership.objects.filter(team=team, user=bob).update(role="admin")
    # Between "is there another admin?" and the write: each sees the other still admin.
    monkeypatch.setattr(teams, "_other_admins", slowed(teams._other_admins, 0.5))

    def step_down(user: Any) -> Any:
        membership = Membership.objects.get(team=team, user=user)
        if change == "demote":
            return teams.membership_set_role(membership=membership, role="viewer")
        return teams.membership_remove(membership=membership)

    outcomes = at_once(lambda: step_down(alice), lambda: step_down(bob))

    # One steps down; the other is told why not (not a deadlock or a database error).
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], teams.TeamError), outcomes
    assert "keeps at least one admin" in str(refused[0])
    assert Membership.objects.filter(team=team, role="admin").count() == 1


def test_every_post_needs_a_csrf_token(seeded_plan: TestPlan, alice: Any) -> None:
    c = Client(enforce_csrf_checks=True)
    c.force_login(alice)
    for url in (
        reverse("teams-switch"),
        reverse("teams-create"),
        reverse("runs-plan-start", args=[seeded_plan.pk]),
    ):
        assert c.post(url, {"team": seeded_plan.team_id, "name": "x"}).status_code == 403, url
    assert not Run.objects.exists()
