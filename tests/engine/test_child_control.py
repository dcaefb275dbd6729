"""Live control in the Locust child on its own (no Django): ``set`` commands change the users
or the arrival rate of a running constant run, each answered with the time it was applied."""

from __future__ import annotations

import pytest

from runs.core.engine import protocol
from runs.core.engine.protocol import ControlMessage, DoneMessage, HelloMessage, SecondMessage

from .helpers import Child, snapshot

pytestmark = pytest.mark.slow


def _until_control(child: Child) -> ControlMessage:
    while True:
        message = child.next_message()
        assert message is not None, "the child ended before answering"
        if isinstance(message, ControlMessage):
            return message


def test_a_users_run_takes_a_new_user_count_and_says_when(target_server: str) -> None:
    child = Child(snapshot(target_server, "/delay", users=2, duration=5, query={"ms": "50"}))
    hello = child.next_message()
    assert isinstance(hello, HelloMessage)
    assert isinstance(child.next_message(), SecondMessage)
    child.send(protocol.encode_set(protocol.SetCommand(id=7, rate=3.0)))  # the wrong unit
    refused = _until_control(child)
    assert refused.id == 7 and not refused.applied and "user count" in refused.message
    child.send(protocol.encode_set(protocol.SetCommand(id=8, users=5)))
    ack = _until_control(child)
    messages = child.read_all()
    assert ack.id == 8 and ack.applied and ack.message == ""
    assert messages[-1] == DoneMessage("finished")
    seconds = child.seconds()
    # Locust's shape follows the new plan from its next tick (about a second).
    before = [s.users for s in seconds if s.epoch < int(ack.epoch)]
    # (The last second is the partial one after the load stopped.)
    after = [s.users for s in seconds[:-1] if s.epoch >= int(ack.epoch) + 2]
    assert before and set(before) == {2}
    assert after and set(after) == {5}
    # The run still lasts what was planned.
    assert len(seconds) <= 7


def test_an_arrival_rate_run_starts_iterations_at_the_new_rate(target_server: str) -> None:
    first = snapshot(target_server, "/delay", duration=6, query={"ms": "10"})
    first["profile"] = {"kind": "arrival_constant", "params": {"rate": 5, "duration": 6, "max_in_flight": 20}}
    child = Child(first)
    assert isinstance(child.next_message(), HelloMessage)
    assert isinstance(child.next_message(), SecondMessage)
    child.send(protocol.encode_set(protocol.SetCommand(id=3, rate=20.0)))
    ack = _until_control(child)
    child.read_all()
    assert ack.applied
    seconds = child.seconds()
    early = [s.requests for s in seconds if s.epoch < int(ack.epoch)]
    late = [s.requests for s in seconds if int(ack.epoch) + 1 <= s.epoch < seconds[-1].epoch]
    assert early and all(4 <= r <= 6 for r in early), early
    assert late and all(18 <= r <= 22 for r in late), late
