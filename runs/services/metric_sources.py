"""Writes of a target's metrics sources (``runs.models.MetricSource``); forms validate first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Max

from runs.core.safety.addresses import Endpoint
from runs.models import MetricSource, RunMetricPoint, RunMetricSeries, Target
from runs.services.safety import target_address_check

FIELDS = (
    "name",
    "kind",
    "url",
    "auth_type",
    "auth_username",
    "auth_password",
    "auth_token",
    "verify_tls",
    "series",
)


@dataclass(frozen=True)
class MetricSourceCheck:
    endpoint: Endpoint
    address: str  # the checked address every read of the source connects to


@transaction.atomic
def metric_source_create(*, target: Target, data: Mapping[str, Any]) -> MetricSource:
    last = target.metric_sources.aggregate(m=Max("order"))["m"]
    source = MetricSource(target=target, order=0 if last is None else last + 1)
    for name in FIELDS:
        if name in data:
            setattr(source, name, data[name])
    source.full_clean()
    source.save()
    return source


def metric_source_update(*, source: MetricSource, data: Mapping[str, Any]) -> MetricSource:
    for name in FIELDS:
        if name in data:
            setattr(source, name, data[name])
    source.full_clean()
    source.save()
    return source


def metric_source_delete(*, source: MetricSource) -> None:
    source.delete()


def metric_sources_snapshot(*, target: Target) -> list[dict[str, Any]]:
    """What a run copies of its target's sources (credentials included, redacted on export)."""
    return [{"id": s.pk, **{f: getattr(s, f) for f in FIELDS}} for s in target.metric_sources.all()]


# -- during a run -----------------------------------------------------------------------------
def metric_source_check(*, source: Mapping[str, Any]) -> MetricSourceCheck:
    """The source's URL checked now like a target's (addresses, allowlist) and the address to
    use: :class:`~runs.core.safety.Refused` says why not."""
    check = target_address_check(base_url=str(source.get("url") or ""))
    return MetricSourceCheck(endpoint=check.endpoint, address=check.address)


def run_metric_series_ensure(*, run_id: int, sources: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """The run's series rows (made once; a retried run finds them): ``{"source.name": id}``."""
    out: dict[str, int] = {}
    order = 0
    for source in sources:
        for spec in source.get("series") or []:
            row, _ = RunMetricSeries.objects.get_or_create(
                run_id=run_id,
                source=str(source.get("name") or "")[:100],
                name=str(spec.get("name") or "")[:100],
                defaults={
                    "order": order,
                    "kind": str(source.get("kind") or ""),
                    "expr": str(spec.get("expr") or ""),
                    "unit": str(spec.get("unit") or "")[:20],
                    "limit": spec.get("limit"),
                },
            )
            out[row.key] = row.pk
            order += 1
    return out


def run_metric_points_store(*, points: Sequence[tuple[int, int, float]]) -> int:
    """Store ``(series id, t, value)``; a value already stored for that second is replaced (a
    Prometheus source is asked again at the end at full resolution)."""
    if not points:
        return 0
    latest = {(series_id, t): value for series_id, t, value in points}
    rows = [RunMetricPoint(series_id=s, t=t, value=v) for (s, t), v in latest.items()]
    RunMetricPoint.objects.bulk_create(
        rows, batch_size=1000, update_conflicts=True, unique_fields=["series", "t"], update_fields=["value"]
    )
    return len(rows)


def run_metric_warnings_store(*, warnings: Mapping[int, str]) -> None:
    for series_id, warning in warnings.items():
        RunMetricSeries.objects.filter(pk=series_id).update(warning=warning[:2000])
