"""The administrator's allowlist: hosts and networks that may be tested without proof of
ownership, private and loopback ones included.

Entries come from the ``SCALETEST_ALLOWLIST`` setting (comma-separated; by default only the
demo target, ``127.0.0.1:8089``) and from ``AllowedNetwork`` rows edited in the Django admin.
An entry is one of::

    10.0.0.0/8          a CIDR range, any port
    192.168.1.20        one address, any port
    127.0.0.1:8089      one address, one port
    [::1]:8089          an IPv6 address with a port
    staging.internal    a host name (as written in the base URL), any port
    staging.internal:8443
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from runs.core.safety.addresses import IPAddress

LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){LABEL}(\.{LABEL})*$")
# 127.1, 0177.0.0.1, 0x7f.0.0.1, 2130706433: resolvers read these as IPv4 addresses.
NUMERIC_ISH = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*$")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class AllowRule:
    spelling: str
    network: Network | None = None
    hostname: str | None = None
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> AllowRule:
        raw = (text or "").strip().lower()
        if not raw:
            raise ValueError("Give a host name, an IP address or a CIDR range.")
        host, port = raw, None
        if raw.startswith("["):
            host, sep, rest = raw[1:].partition("]")
            if not sep or (rest and not rest.startswith(":")):
                raise ValueError(f"{text!r}: write an IPv6 address with a port as [::1]:8089.")
            port = _port(rest[1:], text) if rest else None
        elif raw.count(":") == 1:
            host, _, port_text = raw.partition(":")
            port = _port(port_text, text)
        try:
            network = ipaddress.ip_network(host, strict=False)
        except ValueError:
            network = None
        if network is not None:
            if port is not None and network.num_addresses > 1:
                raise ValueError(f"{text!r}: a port goes with one address, not a range.")
            spelled = str(network) if network.num_addresses > 1 else str(network.network_address)
            if port is not None:
                spelled = f"[{spelled}]:{port}" if network.version == 6 else f"{spelled}:{port}"
            return cls(spelling=spelled, network=network, port=port)
        host = host.rstrip(".")
        if NUMERIC_ISH.match(host):
            raise ValueError(f"{text!r}: write an IP address in dotted form, e.g. 127.0.0.1.")
        if not HOSTNAME.match(host):
            raise ValueError(f"{text!r} is not a host name, an IP address or a CIDR range.")
        return cls(spelling=host if port is None else f"{host}:{port}", hostname=host, port=port)

    def allows(self, *, host: str, port: int, address: IPAddress) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.hostname is not None:
            return host.rstrip(".").lower() == self.hostname
        assert self.network is not None
        candidates = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        return any(c.version == self.network.version and c in self.network for c in candidates)


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{whole!r}: the port must be a number from 1 to 65535.")
    return int(text)
