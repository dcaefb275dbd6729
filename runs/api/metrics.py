"""Server metrics: a target's metrics sources (secrets write-only) and a run's server series."""

# No `from __future__ import annotations`: ninja reads the handlers' annotations at import.

from typing import Any

from django.http import HttpRequest
from ninja import Router
from ninja.errors import HttpError
from ninja.responses import Status

from runs import access
from runs.api._common import check_form, responses
from runs.api.schemas.metrics import MetricSourceIn, MetricSourceOut, ServerSeriesListOut
from runs.core.metrics.series import series_text
from runs.forms.metric_sources import MetricSourceForm
from runs.models import MetricSource, Run, Target
from runs.selectors.metrics import run_metric_rows
from runs.services import metric_sources

router = Router(tags=["metrics"])


def _target(request: HttpRequest, target_id: int, *, edit: bool = False) -> Target:
    return access.object_for(
        request, Target.objects.all(), target_id, role=access.EDITOR if edit else access.VIEWER
    )


def _source(target: Target, source_id: int) -> MetricSource:
    source = target.metric_sources.filter(pk=source_id).first()
    if source is None:
        raise HttpError(404, f"Target #{target.pk} has no metrics source #{source_id}.")
    return source


def _validated(payload: MetricSourceIn, instance: MetricSource | None = None) -> dict[str, Any]:
    """The page form's checks (safe URL, series, credentials) on the API's body."""
    data = payload.dict()
    data["series_text"] = series_text(data.pop("series"))
    data = {k: ("" if v is None and k in ("auth_password", "auth_token") else v) for k, v in data.items()}
    return check_form(MetricSourceForm(data, instance=instance))


@router.get(
    "/targets/{int:target_id}/sources",
    response=responses({200: list[MetricSourceOut]}),
    url_name="metric-sources-list",
)
def metric_source_list(request: HttpRequest, target_id: int) -> Any:
    return list(_target(request, target_id).metric_sources.all())


@router.post(
    "/targets/{int:target_id}/sources",
    response=responses({201: MetricSourceOut}),
    url_name="metric-sources-create",
)
def metric_source_create(
    request: HttpRequest, target_id: int, payload: MetricSourceIn
) -> Status[MetricSource]:
    target = _target(request, target_id, edit=True)
    return Status(201, metric_sources.metric_source_create(target=target, data=_validated(payload)))


@router.put(
    "/targets/{int:target_id}/sources/{int:source_id}",
    response=responses({200: MetricSourceOut}),
    url_name="metric-sources-update",
)
def metric_source_put(
    request: HttpRequest, target_id: int, source_id: int, payload: MetricSourceIn
) -> MetricSource:
    source = _source(_target(request, target_id, edit=True), source_id)
    return metric_sources.metric_source_update(source=source, data=_validated(payload, instance=source))


@router.delete(
    "/targets/{int:target_id}/sources/{int:source_id}",
    response=responses({204: None}),
    url_name="metric-sources-delete",
)
def metric_source_delete(request: HttpRequest, target_id: int, source_id: int) -> Status[None]:
    source = _source(_target(request, target_id, edit=True), source_id)
    metric_sources.metric_source_delete(source=source)
    return Status(204, None)


@router.get(
    "/runs/{int:run_id}/series", response=responses({200: ServerSeriesListOut}), url_name="runs-server-series"
)
def run_server_series(request: HttpRequest, run_id: int) -> dict[str, Any]:
    """The run's server series as stored (per second or per scrape), with any warning."""
    run = access.object_for(request, Run.objects.all(), run_id)
    return {"run": run.pk, "series": run_metric_rows(run=run)}
