"""What every API schema module shares: error bodies and the literal types of fields."""

from __future__ import annotations

from typing import Literal

from ninja import Field, Schema

from runs.core import profiles
from runs.models import METHODS

ProfileKind = Literal[profiles.KINDS]  # type: ignore[valid-type]


Method = Literal[METHODS]  # type: ignore[valid-type]


Role = Literal["viewer", "editor", "admin"]


RunStatus = Literal["queued", "running", "finished", "failed", "cancelled"]


Name = Field(..., min_length=1, max_length=200)


class Error(Schema):
    detail: str = Field(..., description="What went wrong, for a person to read.")


class ValidationErrorItem(Schema):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrors(Schema):
    detail: list[ValidationErrorItem]
