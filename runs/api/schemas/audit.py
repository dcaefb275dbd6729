"""API schemas of the audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field, Schema


class AuditEntryOut(Schema):
    id: int
    created_at: dt.datetime
    action: str = Field(description="e.g. member.role, share.create, run.start")
    actor: str = Field(description="Username of who did it (for a failed sign-in: the one tried)")
    address: str | None
    via: str = Field(description="page, api, admin, ci, schedule or system")
    object_type: str
    object_id: str
    object_label: str
    details: dict[str, Any]

    @staticmethod
    def resolve_actor(obj: Any) -> str:
        return obj.actor_name


class AuditFilter(Schema):
    team: int = Field(description="The team (you must be one of its admins)")
    action: str = ""
    actor: str = ""
    days: int | None = None
