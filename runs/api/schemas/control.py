"""Live control of a running run: change its level, stop it early, read its timeline."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Field, Schema


class ControlIn(Schema):
    """Exactly one of them: ``users`` for a constant-users run, ``rate`` for a constant
    arrival-rate run (iterations per second)."""

    users: int | None = Field(None, description="The new user count (closed model).")
    rate: float | None = Field(None, description="The new arrival rate, iterations/s (open model).")


class ControlOut(Schema):
    id: int
    run: int
    kind: Literal["users", "rate", "stop"]
    value: float | None = Field(..., description="The new level; null for a stop.")
    previous: float | None = Field(..., description="The level before the change.")
    state: Literal["pending", "sent", "applied", "refused", "missed"]
    at_s: float | None = Field(
        ..., description="Seconds after the start the load generator applied it: where the level starts."
    )
    requested_at: dt.datetime
    applied_at: dt.datetime | None
    message: str


class TimelineOut(Schema):
    run: int
    items: list[ControlOut]
