"""A local HTTP/1.1 keep-alive server with known behaviour, to load-test ScaleTest itself.

Standard library only; it binds to loopback only. Endpoints:

* ``/delay?ms=1049``   sleeps exactly that long, then answers 200.
* ``/slots``           a known bottleneck: ``slots`` workers (default 8), each request holds
                       one for ``slot_ms`` (default 50 ms). Throughput plateaus at
                       slots / slot_ms (160 req/s) and latency climbs once more than
                       ``slots`` requests are in flight (they queue for a slot).
* ``/status/<code>``   answers with that status code (200–599).
* ``/bytes?n=1000``    answers n bytes (at most 10 MB).
* ``/echo``            (POST/PUT/PATCH) answers the request body.
* ``/reset``           closes the connection abruptly (TCP RST), no answer.
* ``/login``           (POST) issues a new token: JSON ``{"access_token": ..., "user": ...}``
                       (``user`` from a JSON body's ``user``) and the header ``X-Session``.
* ``/me``              200 with the token's user for ``Authorization: Bearer <issued token>``,
                       401 otherwise.
* ``/value?v=x``       answers x and counts it (``values`` in ``/__stats``), so tests can see
                       which values a scenario sent.
* ``/metrics``         the Prometheus text format: ``demo_slots`` (the slot count),
                       ``demo_slots_busy`` and ``demo_queue_length`` (requests holding / waiting
                       for a slot now) and ``demo_requests_served_total`` (requests answered,
                       the same requests ``/__stats`` counts); not counted itself.
* ``/__stats``         JSON: requests served per path (query excluded, ``/__stats`` itself not
                       counted), so tests can compare ScaleTest's count with the target's, and
                       ``in_flight_peak``, the most requests it was handling at once.

``start_demo_target()`` runs it in a background thread on an ephemeral port, for tests.
"""

from __future__ import annotations

import json
import secrets
import socket
import struct
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

LOOPBACK = ("127.0.0.1", "::1", "localhost")
MAX_BYTES = 10 * 1024 * 1024
MAX_DELAY_MS = 600_000
MAX_TOKENS = 100_000


class DemoServer(ThreadingHTTPServer):
    daemon_threads = True
    # Locust opens one connection per user at once; the default backlog of 5 refuses some.
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], *, slots: int = 8, slot_ms: float = 50.0) -> None:
        if address[0] not in LOOPBACK:
            raise ValueError(f"the demo target binds to loopback only, not {address[0]!r}")
        if slots < 1 or slot_ms < 0:
            raise ValueError("slots must be >= 1 and slot_ms >= 0")
        if address[0] == "::1":
            self.address_family = socket.AF_INET6
        super().__init__(address, DemoHandler)
        self.slots = threading.BoundedSemaphore(slots)
        self.slot_count = slots
        self.slot_seconds = slot_ms / 1000.0
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._in_flight = 0
        self._in_flight_peak = 0
        self._tokens: dict[str, str] = {}
        self._values: Counter[str] = Counter()
        self._slots_busy = 0
        self._queued = 0
        self._served = 0

    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any) -> None:
        # A load generator that stops drops its keep-alive connections mid-read: routine here.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def count(self, path: str) -> None:
        with self._lock:
            self._counts[path] += 1
            self._in_flight += 1
            self._in_flight_peak = max(self._in_flight_peak, self._in_flight)

    def done(self) -> None:
        with self._lock:
            self._in_flight -= 1
            self._served += 1

    def slot_wait(self, delta: int) -> None:
        with self._lock:
            self._queued += delta

    def slot_busy(self, delta: int) -> None:
        with self._lock:
            self._slots_busy += delta

    def metrics_text(self) -> str:
        with self._lock:
            busy, queued, served = self._slots_busy, self._queued, self._served
        return (
            "# HELP demo_slots Slots of /slots: requests it serves at once.\n"
            "# TYPE demo_slots gauge\n"
            f"demo_slots {self.slot_count}\n"
            "# HELP demo_slots_busy Slots holding a request now.\n"
            "# TYPE demo_slots_busy gauge\n"
            f"demo_slots_busy {busy}\n"
            "# HELP demo_queue_length Requests waiting for a slot now.\n"
            "# TYPE demo_queue_length gauge\n"
            f"demo_queue_length {queued}\n"
            "# HELP demo_requests_served_total Requests answered (all paths but /metrics and /__stats).\n"
            "# TYPE demo_requests_served_total counter\n"
            f"demo_requests_served_total {served}\n"
        )

    def stats(self) -> dict[str, Any]:
        with self._lock:
            paths = dict(self._counts)
            peak = self._in_flight_peak
            values = dict(self._values)
            served = self._served
        return {
            "paths": paths,
            "total": sum(paths.values()),
            "served": served,
            "in_flight_peak": peak,
            "values": values,
        }

    def issue_token(self, user: str) -> str:
        token = secrets.token_hex(16)
        with self._lock:
            if len(self._tokens) >= MAX_TOKENS:  # a long run must not grow it without bound
                del self._tokens[next(iter(self._tokens))]  # the oldest
            self._tokens[token] = user
        return token

    def token_user(self, token: str) -> str | None:
        with self._lock:
            return self._tokens.get(token)

    def count_value(self, value: str) -> None:
        with self._lock:
            if len(self._values) < MAX_TOKENS:
                self._values[value] += 1


class DemoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real server
    # Without TCP_NODELAY a small answer waits for the client's delayed ACK (~40 ms on Linux).
    disable_nagle_algorithm = True
    server: DemoServer
    _headers_buffer: list[bytes]  # BaseHTTPRequestHandler's own (not in the stdlib's stubs)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass  # thousands of requests per second; an access log would be the bottleneck

    def handle_any(self) -> None:
        url = urlsplit(self.path)
        body = self._read_body()
        path = url.path
        if path == "/__stats":
            self._send(200, json.dumps(self.server.stats()).encode(), "application/json")
            return
        if path == "/metrics":
            self._send(200, self.server.metrics_text().encode(), "text/plain; version=0.0.4; charset=utf-8")
            return
        self.server.count(path)
        try:
            self._answer(url.path, parse_qs(url.query), body)
        finally:
            self.server.done()

    def _answer(self, path: str, query: dict[str, list[str]], body: bytes) -> None:
        if path == "/delay":
            ms = _bounded_int(query, "ms", 0, MAX_DELAY_MS)
            if ms is None:
                self._send(400, b"ms must be an integer from 0 to 600000\n")
                return
            time.sleep(ms / 1000.0)
            self._send(200, b"ok\n")
        elif path == "/slots":
            self.server.slot_wait(1)
            with self.server.slots:
                self.server.slot_wait(-1)
                self.server.slot_busy(1)
                try:
                    time.sleep(self.server.slot_seconds)
                finally:
                    self.server.slot_busy(-1)
            self._send(200, b"ok\n")
        elif path.startswith("/status/"):
            try:
                code = int(path.removeprefix("/status/"))
            except ValueError:
                code = 0
            if not 200 <= code <= 599:
                self._send(400, b"status must be from 200 to 599\n")
                return
            self._send(code, b"" if code in (204, 304) else f"status {code}\n".encode())
        elif path == "/bytes":
            n = _bounded_int(query, "n", 0, MAX_BYTES)
            if n is None:
                self._send(400, b"n must be an integer from 0 to 10485760\n")
                return
            self._send(200, b"x" * n, "application/octet-stream")
        elif path == "/echo":
            self._send(200, body, self.headers.get("Content-Type") or "application/octet-stream")
        elif path == "/reset":
            self._reset()
        elif path == "/login" and self.command == "POST":
            try:
                user = str((json.loads(body or b"{}") or {}).get("user") or "demo")
            except (ValueError, AttributeError):
                self._send(400, b"the body must be a JSON object\n")
                return
            token = self.server.issue_token(user)
            answer = json.dumps({"access_token": token, "user": user}).encode()
            self._send(200, answer, "application/json", extra_headers={"X-Session": token})
        elif path == "/me":
            scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
            holder = self.server.token_user(token.strip()) if scheme.lower() == "bearer" else None
            if holder is None:
                self._send(401, b"missing or unknown bearer token\n")
                return
            self._send(200, json.dumps({"user": holder}).encode(), "application/json")
        elif path == "/value":
            value = query.get("v", [""])[0]
            self.server.count_value(value)
            self._send(200, value.encode())
        elif path == "/":
            self._send(200, b"ScaleTest demo target\n")
        else:
            self._send(404, b"not found\n")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = handle_any

    def do_HEAD(self) -> None:
        self.handle_any()

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(
        self,
        code: int,
        body: bytes,
        content_type: str = "text/plain; charset=utf-8",
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        for key, value in (extra_headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        # Headers and body in one write: one packet for small answers.
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD" and code not in (204, 304):
            self._headers_buffer.append(body)
        self.wfile.write(b"".join(self._headers_buffer))
        self._headers_buffer = []

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout turns close() into a RST instead of a FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()


def _bounded_int(query: dict[str, list[str]], key: str, low: int, high: int) -> int | None:
    try:
        value = int(query.get(key, ["0"])[0])
    except ValueError:
        return None
    return value if low <= value <= high else None


@dataclass
class DemoTarget:
    server: DemoServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        host, port = str(self.server.server_address[0]), self.server.server_address[1]
        host = f"[{host}]" if ":" in str(host) else host
        return f"http://{host}:{port}"

    def stats(self) -> dict[str, Any]:
        return self.server.stats()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_demo_target(
    *, host: str = "127.0.0.1", port: int = 0, slots: int = 8, slot_ms: float = 50.0
) -> DemoTarget:
    """Serve in a daemon thread; port 0 picks a free port (see ``DemoTarget.url``)."""
    server = DemoServer((host, port), slots=slots, slot_ms=slot_ms)
    thread = threading.Thread(target=server.serve_forever, name="demo-target", daemon=True)
    thread.start()
    return DemoTarget(server, thread)
