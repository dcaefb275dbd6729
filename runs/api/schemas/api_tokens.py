"""API schema of a created API token."""

from __future__ import annotations

import datetime as dt

from ninja import Schema


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
