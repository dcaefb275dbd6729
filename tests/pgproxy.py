"""A TCP proxy in front of the real PostgreSQL server that can cut a connection at a commit.

A worker whose ``DATABASE_URL`` points here talks to PostgreSQL as usual: every byte is
forwarded both ways. The proxy reads the client's side of the wire protocol (frontend
messages: a type byte and a length) to recognise a *write transaction's* ``COMMIT`` — one that
wrote to a watched table — and, once armed, cuts that connection at one of three moments:

* ``before``: the COMMIT is never sent; the server rolls the transaction back.
* ``at``: the COMMIT reaches the server, which commits, but its reply never reaches the
  client: the client gets a connection error and cannot know the data was stored. This is
  the case that makes a naive retry count everything twice.
* ``after``: the reply is delivered, then the connection is cut before the next statement.

It is the real server committing or rolling back; nothing of our stack is replaced.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from dataclasses import dataclass, field

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
MOMENTS = ("before", "at", "after")


@dataclass
class Cut:
    moment: str
    table: bytes
    fired: threading.Event = field(default_factory=threading.Event)


class PgCutProxy:
    def __init__(self, upstream: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._cut: Cut | None = None
        self._closed = False
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True, name="pgproxy-accept").start()

    def url(self, database: str, user: str = "postgres") -> str:
        # No TLS between the client and the proxy: the proxy must read the messages.
        return f"postgres://{user}@127.0.0.1:{self.port}/{database}?sslmode=disable&gssencmode=disable"

    def arm(self, moment: str, *, table: str) -> Cut:
        """Cut the next connection that commits a transaction which wrote to ``table``."""
        assert moment in MOMENTS, moment
        cut = Cut(moment, f'"{table}"'.encode())
        with self._lock:
            self._cut = cut
        return cut

    def _take(self, wrote: set[bytes]) -> Cut | None:
        with self._lock:
            cut = self._cut
            if cut is not None and cut.table in wrote:
                self._cut = None
                return cut
        return None

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()

    # -- plumbing ------------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            self.connections += 1
            _Connection(self, client, server).start()


class _Connection:
    def __init__(self, proxy: PgCutProxy, client: socket.socket, server: socket.socket) -> None:
        self.proxy, self.client, self.server = proxy, client, server
        self.hold_replies = threading.Event()  # "at": the server's replies are dropped
        self.reply_seen = threading.Event()
        self.reply_forwarded = threading.Event()
        self.dead = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._client_to_server, daemon=True, name="pgproxy-c2s").start()
        threading.Thread(target=self._server_to_client, daemon=True, name="pgproxy-s2c").start()

    def _kill(self) -> None:
        self.dead.set()
        for sock in (self.client, self.server):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def _read_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.client.recv(n - len(data))
            if not chunk:
                raise ConnectionError("client closed")
            data += chunk
        return data

    def _client_to_server(self) -> None:
        try:
            # Startup phase: untyped messages (SSL/GSS requests, then the startup message).
            while True:
                head = self._read_exact(8)
                length, code = struct.unpack("!ii", head)
                body = self._read_exact(length - 8)
                self.server.sendall(head + body)
                if code not in (SSL_REQUEST, GSSENC_REQUEST):
                    if code == CANCEL_REQUEST:
                        return
                    break
            wrote: set[bytes] = set()
            while not self.dead.is_set():
                head = self._read_exact(5)
                kind, length = head[:1], struct.unpack("!i", head[1:])[0]
                body = self._read_exact(length - 4)
                if kind in (b"Q", b"P"):
                    upper = body.upper()
                    for verb in (b"INSERT INTO ", b"UPDATE ", b"DELETE FROM "):
                        at = upper.find(verb)
                        if at >= 0:
                            rest = body[at + len(verb) :].split(b" ", 1)[0]
                            wrote.add(rest)
                    if kind == b"Q" and upper.strip(b"\x00 ;").endswith(b"COMMIT"):
                        cut = self.proxy._take(wrote)
                        wrote = set()
                        if cut is not None:
                            self._cut_at_commit(cut, head + body)
                            return
                    elif kind == b"Q" and upper.strip(b"\x00 ;").endswith(b"ROLLBACK"):
                        wrote = set()
                self.server.sendall(head + body)
        except (OSError, ConnectionError):
            pass
        finally:
            self._kill()

    def _cut_at_commit(self, cut: Cut, commit: bytes) -> None:
        if cut.moment == "before":
            self._kill()
        elif cut.moment == "at":
            self.hold_replies.set()
            self.server.sendall(commit)
            # The server has answered (its reply is dropped): it committed.
            self.reply_seen.wait(10)
            self._kill()
        else:  # after
            self.server.sendall(commit)
            self.reply_forwarded.wait(10)
            self._kill()
        cut.fired.set()

    def _server_to_client(self) -> None:
        try:
            while not self.dead.is_set():
                data = self.server.recv(65536)
                if not data:
                    return
                if self.hold_replies.is_set():
                    self.reply_seen.set()
                    continue
                self.client.sendall(data)
                self.reply_forwarded.set()
        except OSError:
            pass
        finally:
            self._kill()
