"""Inside the Locust child: connect only to the address the parent checked (DNS rebinding).

The parent resolves the target's host, checks every address (``runs.services.safety``) and
passes one of them as the ``"pin"`` engine option: ``{"host": "shop.example.com", "port":
443, "address": "203.0.113.7"}``. :func:`install` replaces name resolution in this process so
that the pinned host resolves to that address only and every other name fails. URLs keep the
host name, so the Host header, TLS SNI and certificate checks stay as they were; a second
lookup that now answers 127.0.0.1 or 169.254.169.254 is never made. Both Locust clients
(geventhttpclient via ``gevent.socket.getaddrinfo``, requests/urllib3 via
``socket.getaddrinfo``) go through it. No Django, no Locust: the child imports it after
Locust's monkey-patching.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from typing import Any

REFUSED = "ScaleTest connects only to the checked address of the target"


def _normalise(host: Any) -> str:
    if isinstance(host, bytes):
        host = host.decode("idna", errors="replace")
    return str(host or "").strip("[]").rstrip(".").lower()


def pinned_getaddrinfo(original: Callable[..., Any], pin: dict[str, Any]) -> Callable[..., Any]:
    host, port, address = _normalise(pin["host"]), int(pin["port"]), str(pin["address"])

    def getaddrinfo(name: Any, service: Any, *args: Any, **kwargs: Any) -> Any:
        if _normalise(name) != host or (service not in (None, port, str(port))):
            message = f"{REFUSED} ({pin['host']}:{port}), not {name}:{service}"
            raise socket.gaierror(socket.EAI_NONAME, message)
        return original(address, service, *args, **kwargs)

    getaddrinfo.scaletest_pin = pin  # type: ignore[attr-defined]
    return getaddrinfo


def install(pin: dict[str, Any] | None) -> bool:
    """Pin name resolution of this process to ``pin``; False (nothing changed) without one."""
    if not pin:
        return False
    modules: list[Any] = [socket]
    gevent_socket = sys.modules.get("gevent.socket")
    if gevent_socket is not None:
        modules.append(gevent_socket)
    for module in modules:
        original = module.getaddrinfo
        module.getaddrinfo = pinned_getaddrinfo(getattr(original, "__wrapped_original__", original), pin)
        module.getaddrinfo.__wrapped_original__ = original  # type: ignore[attr-defined]
    return True
