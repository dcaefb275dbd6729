"""The teams migration moves what existed before teams into one team, with every user in it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("runs", "0001_initial")]
AFTER = [("runs", "0002_teams")]


@pytest.mark.django_db(transaction=True)
def test_rows_made_before_teams_land_in_a_default_team_with_every_user() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    User = old.get_model("auth", "User")
    admin = User.objects.create(username="op", is_superuser=True, is_staff=True)
    user = User.objects.create(username="dev")
    target = old.get_model("runs", "Target").objects.create(name="T", base_url="http://127.0.0.1:9")
    scenario = old.get_model("runs", "Scenario").objects.create(name="S")
    profile = old.get_model("runs", "LoadProfile").objects.create(name="P", kind="constant", params={})
    plan = old.get_model("runs", "TestPlan").objects.create(
        name="Plan", target=target, scenario=scenario, profile=profile
    )
    run = old.get_model("runs", "Run").objects.create(plan=plan, plan_name="Plan", snapshot={})

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    Team = new.get_model("runs", "Team")
    team = Team.objects.get()
    assert team.name == "Default team"
    for name, pk in (
        ("Target", target.pk),
        ("Scenario", scenario.pk),
        ("LoadProfile", profile.pk),
        ("TestPlan", plan.pk),
        ("Run", run.pk),
    ):
        assert new.get_model("runs", name).objects.get(pk=pk).team_id == team.pk, name
    roles = dict(new.get_model("runs", "Membership").objects.values_list("user_id", "role"))
    assert roles == {admin.pk: "admin", user.pk: "editor"}

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
