"""The address a request came from, as far as this deployment can tell.

Behind SCALETEST_TRUSTED_PROXIES reverse proxies that each append to ``X-Forwarded-For``, the
client is the Nth entry from the right (what the outermost trusted proxy saw); anything further
left was written by the client and is ignored. Without proxies it is ``REMOTE_ADDR``. Sign-in
lockouts (django-axes: AXES_CLIENT_IP_CALLABLE), token rate limits and the audit trail all use
this one answer.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid(value: str) -> str | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.9:51234"
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str | None:
    remote = _valid(request.META.get("REMOTE_ADDR") or "")
    proxies = int(getattr(settings, "SCALETEST_TRUSTED_PROXIES", 0) or 0)
    if proxies <= 0:
        return remote
    forwarded = [part for part in (request.META.get("HTTP_X_FORWARDED_FOR") or "").split(",") if part.strip()]
    if len(forwarded) < proxies:
        # Fewer hops than configured: the request did not come through every proxy (or the
        # setting is wrong); the peer is the only address nobody could forge.
        return remote
    return _valid(forwarded[-proxies]) or remote
