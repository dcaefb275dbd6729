"""Proof of ownership: the target serves ``/.well-known/scaletest-<token>.txt`` containing the token.

As Loader.io does, the file is fetched again before every run, so removing it stops future
runs. The fetch is one plain GET to the address that was just checked (never a new lookup),
with the target's host name in the Host header and for TLS in SNI and certificate checks; no
redirects, a short timeout, at most a few kilobytes read.
"""

from __future__ import annotations

import http.client
import secrets
import socket
import ssl

from runs.core.safety.addresses import Endpoint

MAX_BODY = 4096


def new_token() -> str:
    return secrets.token_hex(16)  # 128 bits


def proof_path(token: str) -> str:
    return f"/.well-known/scaletest-{token}.txt"


def proof_url(endpoint: Endpoint, token: str) -> str:
    return f"{endpoint.scheme}://{endpoint.netloc}{proof_path(token)}"


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    _context: ssl.SSLContext  # HTTPSConnection's own (not in the stdlib's stubs)

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


def fetch_proof(
    *, endpoint: Endpoint, address: str, token: str, verify_tls: bool, timeout: float
) -> str | None:
    """None when the target serves the token; otherwise what went wrong, for the user."""
    url = proof_url(endpoint, token)
    conn: http.client.HTTPConnection
    if endpoint.scheme == "https":
        conn = _PinnedHTTPSConnection(
            endpoint.host, endpoint.port, address=address, timeout=timeout, verify=verify_tls
        )
    else:
        conn = _PinnedHTTPConnection(endpoint.host, endpoint.port, address=address, timeout=timeout)
    try:
        conn.request("GET", proof_path(token), headers={"User-Agent": "ScaleTest ownership check"})
        response = conn.getresponse()
        body = response.read(MAX_BODY)
    except (OSError, http.client.HTTPException) as exc:
        return f"Fetching {url} failed: {type(exc).__name__}: {exc}"
    finally:
        conn.close()
    if 300 <= response.status < 400:
        return (
            f"{url} answered {response.status} (a redirect); redirects are not followed, "
            "serve the file itself."
        )
    if response.status != 200:
        return f"{url} answered {response.status}, not 200."
    if token not in body.decode("utf-8", errors="replace"):
        return f"{url} does not contain the token."
    return None
