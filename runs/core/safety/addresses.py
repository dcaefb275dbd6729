"""Pure address checks: is an IP one a load test may be aimed at without an allowlist entry?

Everything is judged on the *resolved* addresses, so odd spellings (``2130706433``,
``0177.0.0.1``, ``0x7f.0.0.1``, ``127.1``, ``[::ffff:127.0.0.1]``) and names pointing at such
addresses are caught the same way as ``127.0.0.1`` itself. IPv6 addresses that embed an IPv4
address (IPv4-mapped, IPv4-compatible, 6to4, Teredo, NAT64) are judged by that address too.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from runs.core.safety import Refused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., list[tuple[Any, ...]]]

NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Special-purpose ranges (IANA registries) some Python versions still call global: IETF
# protocol assignments (Oracle Cloud's metadata is 192.0.0.192), shared address space (Alibaba
# Cloud's metadata is 100.100.100.200), benchmarking, documentation, unique-local IPv6.
NOT_GLOBAL = [
    ipaddress.ip_network(n)
    for n in (
        "192.0.0.0/24",
        "100.64.0.0/10",
        "198.18.0.0/15",
        "192.0.2.0/24",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "240.0.0.0/4",
        "100::/64",
        "2001:db8::/32",
        "fc00::/7",
        "fec0::/10",
    )
]
DEFAULT_PORTS = {"http": 80, "https": 443}


class Unresolvable(Refused):
    """The host name does not resolve (now, from here)."""


@dataclass(frozen=True)
class Endpoint:
    """Scheme, host (as written, lower case, no brackets) and port of a target's base URL."""

    scheme: str
    host: str
    port: int

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if DEFAULT_PORTS.get(self.scheme) == self.port else f"{host}:{self.port}"


def endpoint_of(base_url: str) -> Endpoint:
    try:
        parts = urlsplit(base_url.strip())
        port = parts.port
    except ValueError as exc:
        raise Refused(f"The base URL {base_url!r} is not valid: {exc}.") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise Refused("The base URL must start with http:// or https://.")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise Refused("The base URL has no host name.")
    return Endpoint(scheme, host, port or DEFAULT_PORTS[scheme])


# Looked up at call time, so tests can stand in for DNS (a name that changes its answer).
system_resolver: Resolver = socket.getaddrinfo


def resolve(host: str, port: int, *, resolver: Resolver | None = None) -> tuple[str, ...]:
    """Every address ``host`` resolves to (deduplicated, in the resolver's order)."""
    try:
        infos = (resolver or system_resolver)(host, port, 0, socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Unresolvable(f"ScaleTest could not resolve the host {host!r}: {exc}.") from None
    seen: dict[str, None] = {}
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone id
        seen.setdefault(str(ipaddress.ip_address(address)), None)
    if not seen:
        raise Unresolvable(f"The host {host!r} resolves to no address.")
    return tuple(seen)


def embedded_ipv4(ip: IPAddress) -> Iterator[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries and may be routed to."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return
    if ip.ipv4_mapped is not None:
        yield ip.ipv4_mapped
    if ip.sixtofour is not None:
        yield ip.sixtofour
    if ip.teredo is not None:
        yield from ip.teredo
    packed = int(ip)
    if ip in NAT64 or (packed >> 32 == 0 and packed > 1):  # NAT64 and deprecated ::a.b.c.d
        yield ipaddress.IPv4Address(packed & 0xFFFFFFFF)


def forbidden_reason(address: str | IPAddress) -> str | None:
    """Why ``address`` may not be tested without an allowlist entry, or None when it is public."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    embedded = list(embedded_ipv4(ip))
    # An IPv4-mapped address is that IPv4 address on a dual-stack socket: judge it as such.
    candidates = embedded if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else [*embedded, ip]
    for candidate in candidates:
        if candidate.is_unspecified:
            return "the unspecified address (0.0.0.0 or ::), which reaches this machine"
        if candidate.is_loopback:
            return "a loopback address (this machine)"
        if candidate.is_link_local:
            return "a link-local address, where cloud metadata services live (169.254.169.254)"
        if candidate.is_multicast:
            return "a multicast address"
        if candidate.is_reserved:
            return "a reserved address"
        if candidate.is_private:
            return "a private-network address"
        special = any(candidate in net for net in NOT_GLOBAL if net.version == candidate.version)
        if special or not candidate.is_global:
            return "an address that is not on the public internet"
    return None
