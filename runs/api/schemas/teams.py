"""API schemas of teams and their members."""

from __future__ import annotations

from ninja import Field, Schema

from runs.api.schemas.common import Name, Role


class TeamOut(Schema):
    id: int
    name: str
    role: Role = Field(..., description="Your role in this team.")


class TeamIn(Schema):
    name: str = Name


class MemberOut(Schema):
    id: int = Field(..., description="The membership's id (for changing the role or removing).")
    user_id: int
    username: str
    role: Role


class MemberIn(Schema):
    username: str = Field(..., min_length=1, max_length=150)
    role: Role = "viewer"


class MemberRoleIn(Schema):
    role: Role
