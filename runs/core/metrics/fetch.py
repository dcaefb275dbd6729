"""The one outbound request of a metrics source: a GET to the address the safety checks passed.

Like the ownership proof (``runs.core.safety.verification``): the connection goes to the pinned
address (never a new lookup), the URL's host name stays in the Host header and for TLS; no
redirects are followed, there is a timeout and at most ``max_bytes`` are read.
"""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from runs.core.safety.addresses import Endpoint

MAX_BYTES = 8 * 1024 * 1024
USER_AGENT = "ScaleTest metrics"


class FetchError(Exception):
    """The source could not be read; the message is meant for the run's warnings."""


@dataclass(frozen=True)
class Credentials:
    auth_type: str = "none"  # "none", "basic", "bearer"
    username: str = ""
    password: str = ""
    token: str = ""

    def header(self) -> dict[str, str]:
        if self.auth_type == "basic" and (self.username or self.password):
            raw = f"{self.username}:{self.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        if self.auth_type == "bearer" and self.token:
            return {"Authorization": f"Bearer {self.token}"}
        return {}


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    _context: ssl.SSLContext

    def __init__(self, host: str, port: int, *, address: str, timeout: float, verify: bool) -> None:
        context = ssl.create_default_context()
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


def fetch_text(
    *,
    endpoint: Endpoint,
    address: str,
    path: str,
    credentials: Credentials,
    timeout: float,
    verify_tls: bool = True,
    max_bytes: int = MAX_BYTES,
    accept: str = "text/plain",
) -> str:
    """The body of ``GET path`` as text; :class:`FetchError` on anything but a 200 within the caps."""
    conn: http.client.HTTPConnection
    if endpoint.scheme == "https":
        conn = _PinnedHTTPS(endpoint.host, endpoint.port, address=address, timeout=timeout, verify=verify_tls)
    else:
        conn = _PinnedHTTP(endpoint.host, endpoint.port, address=address, timeout=timeout)
    where = f"{endpoint.scheme}://{endpoint.netloc}{path.split('?', 1)[0]}"
    try:
        headers = {"User-Agent": USER_AGENT, "Accept": accept, **credentials.header()}
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        if 300 <= response.status < 400:
            raise FetchError(f"{where} answered {response.status} (a redirect); redirects are not followed")
        if response.status != 200:
            raise FetchError(f"{where} answered {response.status}, not 200")
        body = response.read(max_bytes + 1)
    except (OSError, http.client.HTTPException) as exc:
        raise FetchError(f"reading {where} failed: {type(exc).__name__}: {exc}") from None
    finally:
        conn.close()
    if len(body) > max_bytes:
        raise FetchError(f"{where} answered more than {max_bytes} bytes; the rest was not read")
    return body.decode("utf-8", errors="replace")
