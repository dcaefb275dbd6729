"""The Locust child connects only to the address the parent checked (DNS rebinding).

Names under ``.invalid`` never resolve for real, so a request that reaches the demo target
through one can only have used the pinned address.
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import pytest

from runs.core.engine import pinning
from runs.core.engine.protocol import DoneMessage
from runs.engine.runner import run_execute
from runs.models import Run
from runs.services.runs import run_claim, run_create

from ..engine.helpers import Child, snapshot, target_count

pytestmark = pytest.mark.slow


def _pinned(base_url: str, pin_host: str, port: int, user_class: str) -> dict[str, Any]:
    first = snapshot(base_url, "/delay", query={"ms": "20"}, users=2, duration=2, user_class=user_class)
    first["engine"]["pin"] = {"host": pin_host, "port": port, "address": "127.0.0.1"}
    return first


@pytest.mark.parametrize("user_class", ["fast", "http"])
def test_the_child_sends_the_load_to_the_pinned_address_keeping_the_host_name(
    target_server: str, user_class: str
) -> None:
    port = urlsplit(target_server).port
    assert port is not None
    before = target_count(target_server, "/delay")
    child = Child(_pinned(f"http://rebound.invalid:{port}", "rebound.invalid", port, user_class))
    messages = child.read_all()
    assert isinstance(messages[-1], DoneMessage)
    requests = sum(s.requests for s in child.seconds())
    failures = sum(e.failures for s in child.seconds() for e in s.endpoints)
    assert requests > 0 and failures == 0
    assert target_count(target_server, "/delay") - before == requests


@pytest.mark.parametrize("user_class", ["fast", "http"])
def test_any_other_host_fails_to_resolve_in_the_child(target_server: str, user_class: str) -> None:
    port = urlsplit(target_server).port
    assert port is not None
    before = target_count(target_server, "/delay")
    # The snapshot's URL names 127.0.0.1 but the checked (pinned) host was another one.
    child = Child(_pinned(target_server, "checked.invalid", port, user_class))
    child.read_all()
    seconds = child.seconds()
    assert sum(s.requests for s in seconds) == sum(e.failures for s in seconds for e in s.endpoints) > 0
    assert target_count(target_server, "/delay") == before
    assert any("checked address" in err.message for s in seconds for err in s.errors)


def test_the_pin_refuses_other_names_and_ports_and_keeps_the_target() -> None:
    calls: list[tuple[Any, ...]] = []

    def original(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        calls.append((host, port))
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (host, port))]

    pin = {"host": "Shop.Example.", "port": 443, "address": "203.0.113.7"}
    resolve = pinning.pinned_getaddrinfo(original, pin)
    assert resolve("shop.example", 443)[0][4] == ("203.0.113.7", 443)
    others = (("evil.example", 443), ("shop.example", 8443), ("169.254.169.254", 80), ("127.0.0.1", 443))
    for host, port in others:
        with pytest.raises(socket.gaierror):
            resolve(host, port)
    assert calls == [("203.0.113.7", 443)]


def test_a_run_end_to_end_uses_the_address_the_worker_checked(
    db: None, fake_dns: dict, target_server: str, make_plan: Any
) -> None:
    """The parent resolves (here: a stand-in DNS), checks and pins; the child never looks the name up."""
    port = urlsplit(target_server).port
    assert port is not None
    fake_dns["only-the-parent-knows.invalid"] = ["127.0.0.1"]
    plan = make_plan(
        f"http://only-the-parent-knows.invalid:{port}",
        "/delay",
        query={"ms": "20"},
        params={"users": 2, "duration": 2},
    )
    before = target_count(target_server, "/delay")
    run = run_create(plan=plan)
    assert run_claim(run_id=run.pk)

    assert run_execute(run_id=run.pk) == Run.Status.FINISHED
    run.refresh_from_db()
    assert run.total_requests > 0 and run.total_failures == 0
    assert target_count(target_server, "/delay") - before == run.total_requests
