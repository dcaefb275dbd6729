"""Live control without Django or Locust: the protocol's set/control lines, the new level's
checks, the plan a controlled run followed (and so its analysis steps), the chart markers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runs.core import control, profiles
from runs.core.analysis.planned import planned_levels
from runs.core.engine import protocol
from runs.core.engine.protocol import ProtocolError
from runs.figures.control import add_control_markers, marker_layout


# -- protocol -----------------------------------------------------------------------------------
def test_a_set_command_round_trips_for_users_and_for_a_rate() -> None:
    users = protocol.SetCommand(id=7, users=20)
    rate = protocol.SetCommand(id=8, rate=12.5)
    assert protocol.encode_set(users) == b'{"cmd":"set","id":7,"users":20}\n'
    assert protocol.parse_command(protocol.encode_set(users)) == users
    assert protocol.parse_command(protocol.encode_set(rate)) == rate
    assert protocol.parse_command(protocol.encode_stop()) == protocol.StopCommand()


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ({"cmd": "set", "id": 1}, "exactly one of users and rate"),
        ({"cmd": "set", "id": 1, "users": 2, "rate": 1.0}, "exactly one of users and rate"),
        ({"cmd": "set", "users": 2}, "set.id must be an integer"),
        ({"cmd": "set", "id": 0, "users": 2}, "set.id must be >= 1"),
        ({"cmd": "set", "id": 1, "users": -1}, "set.users must be >= 0"),
        ({"cmd": "set", "id": 1, "users": 2.5}, "set.users must be an integer"),
        ({"cmd": "set", "id": 1, "rate": 0}, "set.rate must be a positive number"),
        ({"cmd": "set", "id": 1, "rate": "5"}, "set.rate must be a positive number"),
        ({"cmd": "go"}, "unknown command"),
    ],
)
def test_bad_set_commands_are_refused_by_name(line: dict, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        protocol.parse_command(json.dumps(line))


def test_the_childs_control_answer_round_trips_with_its_time() -> None:
    applied = protocol.ControlMessage(7, 1760000012.345, True)
    refused = protocol.ControlMessage(8, 1760000013.0, False, "this run takes a user count")
    assert protocol.parse_line(protocol.encode(applied)) == applied
    assert protocol.parse_line(protocol.encode(refused)) == refused
    with pytest.raises(ProtocolError, match="applied must be true or false"):
        protocol.parse_line(b'{"type":"control","id":7,"epoch":1.5,"applied":"yes"}')
    with pytest.raises(ProtocolError, match="epoch must be a non-negative number"):
        protocol.parse_line(b'{"type":"control","id":7,"epoch":-1,"applied":true}')


# -- the new level --------------------------------------------------------------------------------
def test_a_users_level_is_a_whole_number_within_the_cap() -> None:
    assert control.check_value("constant", "20", max_users=50) == 20.0
    assert control.check_value("constant", 50, max_users=50) == 50.0
    for raw, reason in [
        ("", "Give the new user count"),
        ("abc", "is not a number"),
        ("2.5", "whole number"),
        ("0", "At least 1 user"),
        ("51", "above this team's cap of 50 users"),
        ("nan", "finite"),
    ]:
        with pytest.raises(control.ControlError, match=reason):
            control.check_value("constant", raw, max_users=50)


def test_a_rate_level_is_positive_and_within_one_generator() -> None:
    assert control.check_value("arrival_constant", "12.5", max_users=50) == 12.5
    with pytest.raises(control.ControlError, match="above 0 iterations/s"):
        control.check_value("arrival_constant", "0", max_users=50)
    with pytest.raises(control.ControlError, match="at most 10000"):
        control.check_value("arrival_constant", "10001", max_users=50)


def test_only_constant_profiles_change_their_level() -> None:
    with pytest.raises(control.ControlError, match="“Staircase”"):
        control.check_value("staircase", "5", max_users=50)
    assert control.control_unit("constant") == "users"
    assert control.control_unit("arrival_constant") == "rate"


# -- the plan the run followed -----------------------------------------------------------------------
def _constant(users: int = 10, duration: int = 60) -> profiles.Plan:
    return profiles.build_plan("constant", {"users": users, "duration": duration})


def test_without_changes_the_effective_plan_is_the_planned_one() -> None:
    plan = _constant()
    assert control.effective_plan(plan, []) == plan


def test_each_change_starts_a_stage_at_the_time_it_was_applied() -> None:
    plan = control.effective_plan(_constant(), [control.Change(20.4, 30), control.Change(41.0, 5)])
    assert [(round(s.duration, 3), s.users) for s in plan.stages] == [(20.4, 10), (20.6, 30), (19.0, 5)]
    assert plan.duration == 60
    # The analysis takes one step per level from it.
    levels = planned_levels(plan)
    assert [(lv.users, round(lv.start_s, 1), round(lv.end_s, 1)) for lv in levels] == [
        (10, 0.0, 20.4),
        (30, 20.4, 41.0),
        (5, 41.0, 60.0),
    ]


def test_a_stop_early_cuts_the_plan_and_drops_later_changes() -> None:
    plan = control.effective_plan(
        _constant(), [control.Change(10, 20), control.Change(40, 30)], stopped_at=25.0
    )
    assert [(s.duration, s.users) for s in plan.stages] == [(10, 10), (15, 20)]
    assert plan.duration == 25


def test_changes_at_the_same_time_keep_the_last_one_and_at_zero_replace_the_level() -> None:
    plan = control.effective_plan(
        _constant(), [control.Change(0, 3), control.Change(5, 4), control.Change(5, 6)]
    )
    assert [(s.duration, s.users) for s in plan.stages] == [(5, 3), (55, 6)]


def test_an_arrival_rate_change_splits_its_rate_segments_and_keeps_the_in_flight_cap() -> None:
    base = profiles.build_plan("arrival_constant", {"rate": 10, "duration": 30, "max_in_flight": 40})
    plan = control.effective_plan(base, [control.Change(12.0, 25.0)])
    assert [(r.duration, r.from_rate, r.to_rate) for r in plan.rates] == [
        (12.0, 10.0, 10.0),
        (18.0, 25.0, 25.0),
    ]
    assert [s.users for s in plan.stages] == [40, 40] and plan.max_in_flight == 40
    assert profiles.iterations_until(plan, 30) == pytest.approx(12 * 10 + 18 * 25)
    assert [lv.rate for lv in planned_levels(plan)] == [10.0, 25.0]


def test_a_plan_of_several_levels_cannot_be_changed() -> None:
    staircase = profiles.build_plan(
        "staircase", {"start_users": 1, "step_users": 1, "step_duration": 5, "steps": 3}
    )
    assert not control.is_controllable_plan(staircase)
    with pytest.raises(control.ControlError):
        control.effective_plan(staircase, [control.Change(3, 5)])


# -- markers ------------------------------------------------------------------------------------
def test_markers_are_named_dotted_lines_with_escaped_labels_on_every_chart() -> None:
    layout = marker_layout([{"id": 3, "t": 12.5, "label": "→ 20 users"}, {"id": 4, "t": None, "label": "x"}])
    assert [s["x0"] for s in layout["shapes"]] == [12.5]
    assert layout["shapes"][0]["name"] == "control-3" and layout["shapes"][0]["yref"] == "paper"
    assert layout["annotations"][0]["text"] == "→ 20 users"
    assert (
        marker_layout([{"id": 1, "t": 1, "label": "<b>x</b>"}])["annotations"][0]["text"]
        == "&lt;b&gt;x&lt;/b&gt;"
    )
    figs: dict[str, dict[str, Any]] = {
        "a": {"data": [], "layout": {"shapes": [{"name": "threshold"}]}},
        "b": {"data": [], "layout": {}},
    }
    add_control_markers(figs, [{"id": 3, "t": 12.5, "label": "→ 20 users"}])
    assert [s.get("name") for s in figs["a"]["layout"]["shapes"]] == ["threshold", "control-3"]
    assert len(figs["b"]["layout"]["annotations"]) == 1
