"""Personal API tokens: made once, shown once, stored as a SHA-256 hash, revocable, may expire."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.utils import timezone

from runs.models import ApiToken
from runs.services.audit import Action, audit_record

TOKEN_PREFIX = "st_"
MAX_EXPIRY_DAYS = 3650
# last_used_at is a hint for people, not an audit log: write it at most once a minute per token.
LAST_USED_RESOLUTION = dt.timedelta(seconds=60)


class TokenError(Exception):
    """A token cannot be made; the message is meant for the user."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def api_token_create(*, user: Any, name: str, expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns the row and the token, which is never available again."""
    name = (name or "").strip()
    if not name:
        raise TokenError("Give the token a name, e.g. the CI job that uses it.")
    if len(name) > 100:
        raise TokenError("A token name has at most 100 characters.")
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
        raise TokenError(f"Expiry must be between 1 and {MAX_EXPIRY_DAYS} days (or empty for none).")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)  # 256 random bits
    row = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=token[:8],
        token_hash=token_hash(token),
        expires_at=timezone.now() + dt.timedelta(days=expires_in_days) if expires_in_days else None,
    )
    audit_record(
        action=Action.TOKEN_CREATE, obj=row, details={"user": user.get_username(), "prefix": row.prefix}
    )
    return row, token


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(action=Action.TOKEN_REVOKE, obj=token, details={"user": token.user.get_username()})
    return token


def api_token_authenticate(*, token: str) -> Any | None:
    """The active user a presented token belongs to, or None (unknown, revoked, expired)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = ApiToken.objects.select_related("user").filter(token_hash=token_hash(token)).first()
    now = timezone.now()
    if row is None or not row.is_usable_at(now) or not row.user.is_active:
        return None
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row.user
