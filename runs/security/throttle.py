"""A small rate limiter for failed token lookups, on Django's cache.

Fixed windows per (scope, address): each failure increments ``throttle:<scope>:<address>:<n>``
where ``n`` numbers the SCALETEST_TOKEN_FAILURE_WINDOW_SECONDS windows since the epoch. At
SCALETEST_TOKEN_FAILURE_LIMIT failures the address is refused (429, ``Retry-After`` = the rest of
the window) for every lookup of that scope, right or wrong, until the window ends.

The counters live in the cache shared by every web process (settings.CACHES: Redis when there is
one, files in the data directory in embedded mode). Redis increments atomically; the file cache
reads and writes, so concurrent failures may be counted once instead of twice: the limit is then
reached a little later, but it is reached.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

API_TOKEN = "api-token"
SHARE_TOKEN = "share-token"
SCOPES = (API_TOKEN, SHARE_TOKEN)


@dataclass(frozen=True)
class Window:
    key: str
    retry_after: int  # seconds until this window ends


def _window(scope: str, address: str | None, now: float | None = None) -> Window:
    assert scope in SCOPES, scope
    length = int(settings.SCALETEST_TOKEN_FAILURE_WINDOW_SECONDS)
    now = time.time() if now is None else now
    index = int(now // length)
    retry_after = max(1, int((index + 1) * length - now + 0.999))
    return Window(key=f"throttle:{scope}:{address or 'unknown'}:{index}", retry_after=retry_after)


def throttle_retry_after(*, scope: str, address: str | None) -> int | None:
    """Seconds ``address`` must wait before its next lookup in ``scope``, or None when it may go on."""
    window = _window(scope, address)
    count = cache.get(window.key) or 0
    return window.retry_after if count >= settings.SCALETEST_TOKEN_FAILURE_LIMIT else None


def throttle_failure(*, scope: str, address: str | None) -> int:
    """Count one failed lookup by ``address``; returns the failures in this window so far."""
    window = _window(scope, address)
    cache.add(window.key, 0, timeout=window.retry_after + 1)
    try:
        return cache.incr(window.key)
    except ValueError:  # expired between add and incr
        cache.set(window.key, 1, timeout=window.retry_after + 1)
        return 1


def throttle_reset(*, scope: str, address: str | None) -> None:
    cache.delete(_window(scope, address).key)
