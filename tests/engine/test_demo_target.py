"""The demo target behaves as documented: that is what makes it a yardstick."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.request

import pytest

from runs.core.demo_target import DemoServer, start_demo_target


def _get(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method, data=body)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_delay_sleeps_the_requested_time(target_server: str) -> None:
    started = time.perf_counter()
    status, _ = _get(f"{target_server}/delay?ms=150")
    elapsed_ms = (time.perf_counter() - started) * 1000
    assert status == 200
    # The lower bound is the behaviour; the upper one only rules out a lost request on a
    # loaded machine (timing bounds are not what tests pin).
    assert 150 <= elapsed_ms < 1150


def test_status_bytes_and_echo(target_server: str) -> None:
    assert _get(f"{target_server}/status/503")[0] == 503
    assert _get(f"{target_server}/status/204") == (204, b"")
    assert _get(f"{target_server}/status/99")[0] == 400
    assert _get(f"{target_server}/bytes?n=1234") == (200, b"x" * 1234)
    assert _get(f"{target_server}/echo", "POST", b'{"a": 1}') == (200, b'{"a": 1}')
    assert _get(f"{target_server}/nope")[0] == 404


def test_connections_stay_open_between_requests(target_server: str) -> None:
    host, port = target_server.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    for _ in range(3):
        conn.request("GET", "/delay?ms=0")
        response = conn.getresponse()
        assert response.status == 200 and response.read() == b"ok\n"
        assert response.getheader("Connection") != "close"
    conn.close()


def test_reset_drops_the_connection(target_server: str) -> None:
    host, port = target_server.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("GET", "/reset")
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
        conn.getresponse()


def test_stats_count_requests_per_path_without_counting_themselves(target_server: str) -> None:
    def stats() -> dict:
        return json.loads(_get(f"{target_server}/__stats")[1])

    before = stats()["paths"].get("/bytes", 0)
    _get(f"{target_server}/bytes?n=1")
    _get(f"{target_server}/bytes?n=2")
    after = stats()
    assert after["paths"]["/bytes"] == before + 2
    assert "/__stats" not in after["paths"]


def test_slots_plateau_at_slots_over_hold_time() -> None:
    # 4 slots held 50 ms each: at most 80 req/s however many clients push.
    target = start_demo_target(slots=4, slot_ms=50)
    done = []
    stop_at = time.monotonic() + 1.0

    def client() -> None:
        while time.monotonic() < stop_at:
            _get(f"{target.url}/slots")
            done.append(time.monotonic())

    threads = [threading.Thread(target=client) for _ in range(12)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rate = len(done) / (max(done) - started)
    target.stop()
    assert 60 <= rate <= 82


def test_it_refuses_to_bind_beyond_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        DemoServer(("0.0.0.0", 0))


def test_login_issues_a_token_that_me_accepts_and_value_counts_what_it_was_sent(target_server: str) -> None:
    status, body = _get(f"{target_server}/login", method="POST", body=b'{"user": "ann"}')
    assert status == 200
    token = json.loads(body)["access_token"]
    assert len(token) == 32 and json.loads(body)["user"] == "ann"

    def me(authorization: str | None) -> tuple[int, bytes]:
        request = urllib.request.Request(f"{target_server}/me")
        if authorization is not None:
            request.add_header("Authorization", authorization)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    assert me(f"Bearer {token}") == (200, b'{"user": "ann"}')
    assert me(None)[0] == 401
    assert me("Bearer not-issued")[0] == 401
    assert me(f"Basic {token}")[0] == 401

    assert _get(f"{target_server}/value?v=demo%20value%2F1") == (200, b"demo value/1")
    with urllib.request.urlopen(f"{target_server}/__stats", timeout=5) as response:
        assert json.load(response)["values"]["demo value/1"] >= 1
