"""API schemas of targets."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Field, Schema

from runs.api.schemas.common import Name


class TargetOut(Schema):
    id: int
    team: int
    name: str
    base_url: str
    headers: dict[str, str]
    auth_type: Literal["none", "basic", "bearer"]
    auth_username: str
    has_auth_password: bool = Field(..., description="Secrets are write-only: only whether one is saved.")
    has_auth_token: bool
    verify_tls: bool
    timeout_seconds: float
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_team(obj: Any) -> int:
        return int(obj.team_id)

    @staticmethod
    def resolve_headers(obj: Any) -> dict[str, str]:
        return obj.headers or {}

    @staticmethod
    def resolve_has_auth_password(obj: Any) -> bool:
        return bool(obj.auth_password)

    @staticmethod
    def resolve_has_auth_token(obj: Any) -> bool:
        return bool(obj.auth_token)


class TargetIn(Schema):
    name: str = Name
    base_url: str = Field(..., min_length=1, max_length=500, examples=["http://127.0.0.1:8089"])
    headers: dict[str, str] = Field(default_factory=dict)
    auth_type: Literal["none", "basic", "bearer"] = "none"
    auth_username: str = Field("", max_length=200)
    auth_password: str | None = Field(
        None, max_length=500, description="Write-only. Omit (or empty) to keep the saved password."
    )
    auth_token: str | None = Field(
        None, max_length=2000, description="Write-only. Omit (or empty) to keep the saved token."
    )
    verify_tls: bool = True
    timeout_seconds: float = Field(30.0, ge=0.1, le=600)


class TargetCreate(TargetIn):
    team: int | None = Field(
        None, description="Team id (you need the editor role); default: your first team."
    )


class TargetPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    base_url: str | None = Field(None, min_length=1, max_length=500)
    headers: dict[str, str] | None = None
    auth_type: Literal["none", "basic", "bearer"] | None = None
    auth_username: str | None = Field(None, max_length=200)
    auth_password: str | None = Field(None, max_length=500)
    auth_token: str | None = Field(None, max_length=2000)
    verify_tls: bool | None = None
    timeout_seconds: float | None = Field(None, ge=0.1, le=600)
