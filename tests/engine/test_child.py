"""The Locust child on its own (no Django): the channel, stopping, failures, counts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest

from runs.core.engine.protocol import DoneMessage, FatalMessage, HelloMessage, SecondMessage
from runs.core.histogram import Histogram

from .helpers import BASE_DIR, Child, snapshot, target_count

pytestmark = pytest.mark.slow


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _merged(seconds: list[SecondMessage]) -> Histogram:
    return Histogram.merged(e.histogram for s in seconds for e in s.endpoints)


def test_it_says_hello_streams_every_second_and_ends_with_done(target_server: str) -> None:
    before = target_count(target_server, "/delay")
    child = Child(snapshot(target_server, "/delay", users=3, duration=3, query={"ms": "100"}))
    messages = child.read_all()

    hello, *middle, done = messages
    assert isinstance(hello, HelloMessage) and hello.locust_version == "2.47.0"
    assert done == DoneMessage("finished")
    assert child.proc.returncode == 0
    seconds = [m for m in middle if isinstance(m, SecondMessage)]
    assert len(seconds) == len(middle)
    epochs = [s.epoch for s in seconds]
    assert epochs == list(range(hello.start_epoch, hello.start_epoch + len(epochs)))
    assert 3 <= len(epochs) <= 5
    assert seconds[1].users == 3
    assert all(s.cpu_percent is not None for s in seconds)
    # Every request the target served was measured, none twice.
    requests = sum(s.requests for s in seconds)
    assert requests == target_count(target_server, "/delay") - before
    assert 60 <= requests <= 100  # 3 users x 3 s / 0.1 s
    assert sum(e.failures for s in seconds for e in s.endpoints) == 0
    # The target sleeps 100 ms; a loaded machine adds its own scheduling delay on top, never less.
    assert 100.0 <= _merged(seconds).percentile_ms(50) <= 106.0


def test_a_stop_command_ends_the_load_within_the_stop_timeout(target_server: str) -> None:
    child = Child(snapshot(target_server, "/delay", users=4, duration=60, query={"ms": "200"}))
    assert isinstance(child.next_message(), HelloMessage)
    assert isinstance(child.next_message(), SecondMessage)
    asked = time.monotonic()
    child.send(b'{"cmd":"stop"}\n')
    messages = child.read_all()
    assert time.monotonic() - asked < 2.0
    assert messages[-1] == DoneMessage("stopped")
    served = target_count(target_server, "/delay")
    time.sleep(0.5)
    assert target_count(target_server, "/delay") == served


def test_end_of_stdin_means_the_parent_is_gone(target_server: str) -> None:
    child = Child(snapshot(target_server, "/delay", users=2, duration=60, query={"ms": "50"}))
    assert isinstance(child.next_message(), HelloMessage)
    child.close_stdin()
    assert child.read_all(timeout=5)[-1] == DoneMessage("eof")


def test_sigterm_flushes_what_was_measured_and_exits(target_server: str) -> None:
    child = Child(snapshot(target_server, "/delay", users=2, duration=60, query={"ms": "50"}))
    assert isinstance(child.next_message(), HelloMessage)
    assert isinstance(child.next_message(), SecondMessage)
    child.proc.send_signal(signal.SIGTERM)
    messages = child.read_all(timeout=5)
    assert messages[-1] == DoneMessage("signal")
    assert child.proc.returncode == 0
    assert sum(s.requests for s in child.seconds()) > 0


def test_a_refused_connection_is_a_failure_not_a_crash() -> None:
    child = Child(snapshot(_closed_port_url(), "/", users=2, duration=2))
    messages = child.read_all()
    assert messages[-1] == DoneMessage("finished")
    seconds = child.seconds()
    requests = sum(s.requests for s in seconds)
    assert requests > 0
    assert sum(e.failures for s in seconds for e in s.endpoints) == requests
    classes = {e.error_class for s in seconds for e in s.errors}
    assert classes == {"ConnectionRefusedError"}
    assert sum(e.count for s in seconds for e in s.errors) == requests


def test_unexpected_statuses_and_resets_are_failures_grouped_by_cause(target_server: str) -> None:
    child = Child(snapshot(target_server, "/status/503", users=2, duration=1))
    child.read_all()
    errors = {(e.error_class, e.message) for s in child.seconds() for e in s.errors}
    assert errors == {("UnexpectedStatus", "HTTP 503 (expected 200-299)")}

    child = Child(snapshot(target_server, "/reset", users=1, duration=1))
    child.read_all()
    seconds = child.seconds()
    assert sum(s.requests for s in seconds) == sum(e.failures for s in seconds for e in s.endpoints) > 0


@pytest.mark.parametrize("user_class", ["fast", "http"])
def test_the_expected_statuses_decide_success_with_either_client(target_server: str, user_class: str) -> None:
    # A 503 that the step expects is a success (Locust alone would call it a failure) ...
    child = Child(
        snapshot(target_server, "/status/503", users=1, duration=1, expected="503", user_class=user_class)
    )
    child.read_all()
    endpoints = [e for s in child.seconds() for e in s.endpoints]
    assert sum(e.requests for e in endpoints) > 0
    assert sum(e.failures for e in endpoints) == 0
    assert not [e for s in child.seconds() for e in s.errors]
    # ... and a 200 it does not expect is a failure, with our error class and message.
    child = Child(
        snapshot(target_server, "/status/200", users=1, duration=1, expected="201,204", user_class=user_class)
    )
    child.read_all()
    seconds = child.seconds()
    requests = sum(s.requests for s in seconds)
    assert requests == sum(e.failures for s in seconds for e in s.endpoints) > 0
    assert {(e.error_class, e.message) for s in seconds for e in s.errors} == {
        ("UnexpectedStatus", "HTTP 200 (expected 201,204)")
    }


def test_the_requests_user_class_sends_bodies_and_auth(target_server: str) -> None:
    child = Child(
        snapshot(
            target_server,
            "/echo",
            users=1,
            duration=1,
            method="POST",
            user_class="http",
            body_type="json",
            body='{"hello": "world"}',
            auth={"auth_type": "bearer", "auth_token": "t0ken"},
        )
    )
    messages = child.read_all()
    assert messages[-1] == DoneMessage("finished")
    endpoints = [e for s in child.seconds() for e in s.endpoints]
    assert {(e.method, e.name) for e in endpoints} == {("POST", "/echo")}
    assert sum(e.failures for e in endpoints) == 0
    # The echo answers the body: 18 bytes per request.
    assert sum(e.bytes for e in endpoints) == 18 * sum(e.requests for e in endpoints) > 0


def test_a_bad_snapshot_is_reported_as_fatal() -> None:
    child = Child('{"target": {}}')
    messages = child.read_all()
    assert isinstance(messages[-1], FatalMessage)
    assert messages[-1].message == "the run's snapshot is invalid: target.base_url must be a non-empty string"
    assert child.proc.returncode == 2


# A stand-in for the Celery task's process: spawns the child the way the runner does.
PARENT_SCRIPT = """
import sys, time
import django
django.setup()
from runs.engine.supervision import spawn_child
child = spawn_child()
child.stdin.write(sys.stdin.readline().encode())
child.stdin.flush()
print(child.pid, flush=True)
time.sleep(120)
"""


def test_the_child_never_outlives_its_parent(target_server: str) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT_SCRIPT],
        cwd=str(BASE_DIR),
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "scaletest_site.settings"},
    )
    assert parent.stdin is not None and parent.stdout is not None
    parent.stdin.write(
        json.dumps(snapshot(target_server, "/delay", users=1, duration=60, query={"ms": "10"})) + "\n"
    )
    parent.stdin.flush()
    child = psutil.Process(int(parent.stdout.readline()))
    assert child.is_running()

    parent.kill()  # SIGKILL: no cleanup code in the parent runs
    parent.wait()

    child.wait(timeout=5)  # raises if the child is still running
    assert not child.is_running()
