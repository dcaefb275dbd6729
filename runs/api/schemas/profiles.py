"""API schemas of load profiles."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field, Schema

from runs.api.schemas.common import Name, ProfileKind
from runs.selectors import catalog as selectors_catalog


class ProfileOut(Schema):
    id: int
    team: int
    name: str
    kind: ProfileKind
    params: dict[str, Any]
    duration: float | None = Field(
        ..., description="Planned seconds; null if the parameters no longer build a plan."
    )
    peak_users: int | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_team(obj: Any) -> int:
        return int(obj.team_id)

    @staticmethod
    def resolve_duration(obj: Any) -> float | None:
        preview = selectors_catalog.profile_preview_of(profile=obj)
        return preview["duration"] if preview else None

    @staticmethod
    def resolve_peak_users(obj: Any) -> int | None:
        preview = selectors_catalog.profile_preview_of(profile=obj)
        return preview["peak_users"] if preview else None


class ProfileIn(Schema):
    name: str = Name
    kind: ProfileKind = "constant"
    params: dict[str, Any] = Field(
        ...,
        description='The kind\'s parameters, as on the profile form, e.g. {"users": 10, "duration": 60}.',
        examples=[{"users": 10, "duration": 60}],
    )


class ProfileCreate(ProfileIn):
    team: int | None = Field(None, description="Team id (editor role); default: your first team.")


class ProfilePatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    kind: ProfileKind | None = None
    params: dict[str, Any] | None = None
