"""One webhook POST to an address that was just checked. No Django.

The caller resolves the URL's host and checks every address (``runs.services.notifications``);
the request goes to the first checked address only (a name that resolves differently a moment
later changes nothing), with the URL's host in the Host header and, for TLS, in SNI and the
certificate check. Redirects are never followed: a 3xx is a failed delivery. At most
``MAX_RESPONSE`` bytes of the answer are read.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from runs.core.safety.addresses import Endpoint

MAX_RESPONSE = 2048


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str  # empty when delivered
    elapsed_ms: float
    retryable: bool

    @property
    def delivered(self) -> bool:
        return not self.error


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def request_target(url: str) -> str:
    """Path and query of ``url``, as sent in the request line."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def post(
    *, endpoint: Endpoint, address: str, url: str, body: bytes, headers: dict[str, str], timeout: float
) -> Outcome:
    """POST ``body`` to ``url`` at ``address``; 2xx is delivered, anything else says why."""
    conn: http.client.HTTPConnection
    if endpoint.scheme == "https":
        conn = _PinnedHTTPS(endpoint.host, endpoint.port, address=address, timeout=timeout)
    else:
        conn = _PinnedHTTP(endpoint.host, endpoint.port, address=address, timeout=timeout)
    started = time.monotonic()
    try:
        conn.request("POST", request_target(url), body=body, headers={**headers, "Host": endpoint.netloc})
        response = conn.getresponse()
        answer = response.read(MAX_RESPONSE)
    except (OSError, http.client.HTTPException) as exc:
        elapsed = (time.monotonic() - started) * 1000
        return Outcome(None, f"{type(exc).__name__}: {exc}", elapsed, retryable=True)
    finally:
        conn.close()
    elapsed = (time.monotonic() - started) * 1000
    status = response.status
    if 200 <= status < 300:
        return Outcome(status, "", elapsed, retryable=False)
    if 300 <= status < 400:
        where = response.getheader("Location") or "(no Location)"
        return Outcome(
            status,
            f"Answered {status}, a redirect to {where[:200]}; redirects are not followed, use the final URL.",
            elapsed,
            retryable=False,
        )
    snippet = answer.decode("utf-8", errors="replace").strip()[:200]
    # Server errors, timeouts and rate limits pass; other client errors will not fix themselves.
    retryable = status >= 500 or status in (408, 425, 429)
    return Outcome(status, f"Answered {status}{': ' + snippet if snippet else ''}.", elapsed, retryable)
