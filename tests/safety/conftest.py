"""Fixtures for the guard-rail tests: a stand-in DNS and a small web server a target's owner controls.

The test environment allowlists loopback (tests/_env.py); tests about refusals and ownership
empty the allowlist with ``no_allowlist`` and, where a target must look public, use
``public_loopback`` ("pretend 127.0.0.1 is on the internet") so a local server can play it.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from runs.core.safety import addresses


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names under ``.invalid`` resolve to what the test puts in this dict, and may change answer."""
    answers: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def resolver(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        if host in answers:
            return [
                (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in answers[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(addresses, "system_resolver", resolver)
    return answers


@pytest.fixture
def no_allowlist(settings: Any) -> None:
    settings.SCALETEST_ALLOWLIST = []


@pytest.fixture
def public_loopback(monkeypatch: pytest.MonkeyPatch, no_allowlist: None) -> None:
    from runs.services import safety

    real = safety.forbidden_reason
    monkeypatch.setattr(safety, "forbidden_reason", lambda ip: None if str(ip) == "127.0.0.1" else real(ip))


@dataclass
class OwnerServer:
    """Serves ``files`` (path → (status, body, headers)); records every request's path and Host."""

    server: ThreadingHTTPServer
    files: dict[str, tuple[int, bytes, dict[str, str]]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def owner_server() -> Iterator[OwnerServer]:
    owner = start_owner_server()
    yield owner
    owner.stop()


def start_owner_server() -> OwnerServer:
    owner: OwnerServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            owner.requests.append((self.path, self.headers.get("Host", "")))
            status, body, headers = owner.files.get(self.path, (404, b"not found", {}))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_POST = do_GET

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    owner = OwnerServer(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return owner


Factory = Callable[..., Any]
