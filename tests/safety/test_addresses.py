"""Pure address and allowlist checks: no database, no network (a stand-in resolver)."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runs.core.safety import Refused
from runs.core.safety.addresses import endpoint_of, forbidden_reason, resolve
from runs.core.safety.allowlist import AllowRule

# Every spelling the issue lists, plus a few more; all of them reach something that is not
# the public internet, and the system resolver agrees (they are resolved, not parsed by us).
LOOPBACK_SPELLINGS = ["127.0.0.1", "2130706433", "0177.0.0.1", "0x7f.0.0.1", "127.1", "0x7f000001", "127.0.1"]
FORBIDDEN = {
    "127.0.0.1": "loopback",
    "::1": "loopback",
    "0.0.0.0": "unspecified",
    "::": "unspecified",
    "169.254.169.254": "link-local",  # AWS, GCP, Azure, DigitalOcean metadata
    "fe80::1": "link-local",
    "fd00:ec2::254": "private",  # AWS metadata over IPv6
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "100.100.100.200": "not on the public internet",  # Alibaba metadata (shared address space)
    # Oracle Cloud metadata. Python 3.13's ipaddress counts 192.0.0.0/24 as private, 3.12's
    # does not: refused either way, with one of two reasons.
    "192.0.0.192": ("not on the public internet", "a private-network address"),
    "::ffff:127.0.0.1": "loopback",  # IPv4-mapped
    "::ffff:169.254.169.254": "link-local",
    "::127.0.0.1": "loopback",  # IPv4-compatible (deprecated)
    "64:ff9b::a9fe:a9fe": "link-local",  # NAT64 of 169.254.169.254
    "2002:7f00:1::": "loopback",  # 6to4 of 127.0.0.1
    "224.0.0.1": "multicast",
    "240.0.0.1": "reserved",
    "255.255.255.255": "reserved",
}


@pytest.mark.parametrize("spelling", LOOPBACK_SPELLINGS)
def test_odd_spellings_of_loopback_resolve_to_loopback_and_are_refused(spelling: str) -> None:
    addresses = resolve(spelling, 80)
    assert addresses == ("127.0.0.1",)
    assert "loopback" in (forbidden_reason(addresses[0]) or "")


@pytest.mark.parametrize(("address", "kind"), FORBIDDEN.items())
def test_non_public_addresses_are_refused_with_the_reason(address: str, kind: str) -> None:
    reason = forbidden_reason(address) or "not refused"
    kinds = kind if isinstance(kind, tuple) else (kind,)
    assert any(k in reason for k in kinds), reason


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert forbidden_reason(address) is None


@given(st.ip_addresses())
def test_any_address_that_python_does_not_call_global_is_refused(ip: Any) -> None:
    if not ip.is_global or (ip.version == 6 and ip.ipv4_mapped and not ip.ipv4_mapped.is_global):
        assert forbidden_reason(ip) is not None


@given(st.ip_addresses(v=4))
def test_an_ipv4_address_and_its_mapped_ipv6_form_get_the_same_verdict(ip: ipaddress.IPv4Address) -> None:
    mapped = ipaddress.IPv6Address(f"::ffff:{ip}")
    assert (forbidden_reason(ip) is None) == (forbidden_reason(mapped) is None)


def test_every_resolved_address_is_returned_in_order_without_duplicates() -> None:
    def fake(host: str, port: int, *args: Any) -> list[tuple[Any, ...]]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("fe80::1%eth0", port, 0, 2)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
        ]

    assert resolve("x.example", 443, resolver=fake) == ("93.184.216.34", "fe80::1")


def test_an_unresolvable_host_is_refused_with_a_message() -> None:
    with pytest.raises(Refused, match="could not resolve"):
        resolve("no-such-host.invalid", 80)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://Shop.Example.com.", ("http", "shop.example.com", 80)),
        ("https://shop.example.com:8443/api", ("https", "shop.example.com", 8443)),
        ("http://[::1]:8089", ("http", "::1", 8089)),
        ("http://2130706433/", ("http", "2130706433", 80)),
    ],
)
def test_endpoint_of_a_base_url(url: str, expected: tuple[str, str, int]) -> None:
    e = endpoint_of(url)
    assert (e.scheme, e.host, e.port) == expected


@pytest.mark.parametrize(
    "url", ["ftp://x.example", "http://", "http://x.example:99999", "javascript:alert(1)", ""]
)
def test_bad_base_urls_are_refused(url: str) -> None:
    with pytest.raises(Refused):
        endpoint_of(url)


# -- allowlist entries ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("entry", "host", "port", "address", "allowed"),
    [
        ("127.0.0.1:8089", "127.0.0.1", 8089, "127.0.0.1", True),
        ("127.0.0.1:8089", "127.0.0.1", 8090, "127.0.0.1", False),
        ("127.0.0.1:8089", "localhost", 8089, "127.0.0.1", True),  # judged on the address
        ("127.0.0.1:8089", "2130706433", 8089, "127.0.0.1", True),
        ("127.0.0.1/32", "127.0.0.1", 1234, "::ffff:127.0.0.1", True),  # mapped form
        ("10.0.0.0/8", "db.internal", 5432, "10.9.8.7", True),
        ("10.0.0.0/8", "db.internal", 5432, "11.0.0.1", False),
        ("[::1]:8089", "::1", 8089, "::1", True),
        ("Staging.Internal.", "staging.internal", 443, "10.0.0.5", True),
        ("staging.internal:8443", "staging.internal", 443, "10.0.0.5", False),
        ("staging.internal", "evil.example", 443, "10.0.0.5", False),
    ],
)
def test_allow_rules_match_address_port_or_host(
    entry: str, host: str, port: int, address: str, allowed: bool
) -> None:
    rule = AllowRule.parse(entry)
    assert rule.allows(host=host, port=port, address=ipaddress.ip_address(address)) is allowed


@pytest.mark.parametrize(
    "entry", ["", "127.1", "2130706433", "0x7f.0.0.1", "10.0.0.0/8:80", "a.b:0", "a b", "[::1"]
)
def test_ambiguous_or_invalid_allow_entries_are_rejected(entry: str) -> None:
    with pytest.raises(ValueError):
        AllowRule.parse(entry)
