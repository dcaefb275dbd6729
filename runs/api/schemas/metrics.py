"""API schemas of metrics sources and a run's server series."""

from __future__ import annotations

from typing import Any, Literal

from ninja import Field, Schema


class SeriesSpecIn(Schema):
    name: str = Field(..., min_length=1, max_length=63, examples=["cpu_busy"])
    expr: str = Field(..., min_length=1, max_length=1000, examples=["demo_slots_busy"])
    unit: str = Field("", max_length=20)
    limit: float | None = Field(
        None, gt=0, description="Where the resource is full, e.g. 100 (%) or a pool's size."
    )


class MetricSourceOut(Schema):
    id: int
    target: int
    name: str
    kind: Literal["scrape", "prometheus"]
    url: str
    auth_type: Literal["none", "basic", "bearer"]
    auth_username: str
    has_auth_password: bool = Field(..., description="Secrets are write-only: only whether one is saved.")
    has_auth_token: bool
    verify_tls: bool
    series: list[dict[str, Any]]

    @staticmethod
    def resolve_target(obj: Any) -> int:
        return int(obj.target_id)

    @staticmethod
    def resolve_has_auth_password(obj: Any) -> bool:
        return bool(obj.auth_password)

    @staticmethod
    def resolve_has_auth_token(obj: Any) -> bool:
        return bool(obj.auth_token)


class MetricSourceIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    kind: Literal["scrape", "prometheus"] = "scrape"
    url: str = Field(..., min_length=1, max_length=500, examples=["http://127.0.0.1:9100/metrics"])
    series: list[SeriesSpecIn] = Field(default_factory=list)
    preset: Literal["", "node_exporter", "demo_target"] = Field("", description="Adds the preset's series.")
    auth_type: Literal["none", "basic", "bearer"] = "none"
    auth_username: str = Field("", max_length=200)
    auth_password: str | None = Field(
        None, max_length=500, description="Write-only. Omit to keep the saved one."
    )
    auth_token: str | None = Field(
        None, max_length=2000, description="Write-only. Omit to keep the saved one."
    )
    verify_tls: bool = True


class ServerSeriesOut(Schema):
    source: str
    name: str
    kind: str
    unit: str
    limit: float | None
    warning: str
    points: list[tuple[int, float]] = Field(
        ..., description="[t, value]: t seconds after the start, as /series."
    )


class ServerSeriesListOut(Schema):
    run: int
    series: list[ServerSeriesOut]
