"""Targets: the servers tests are aimed at. Secrets (password, token) are write-only."""

# No `from __future__ import annotations`: ninja reads the handlers' annotations at import.

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router
from ninja.errors import HttpError
from ninja.pagination import paginate
from ninja.responses import Status

from runs import access
from runs.api._common import Pagination, check_form, editable_team, merged, responses, team_filter
from runs.api.schemas.common import Error
from runs.api.schemas.targets import TargetCreate, TargetIn, TargetOut, TargetPatch
from runs.forms.targets import TargetForm
from runs.models import Target
from runs.services import catalog

router = Router(tags=["targets"])
# Handlers return rows; TargetOut reads them (the secrets only as has_auth_password/has_auth_token).


def _current(t: Target) -> dict[str, Any]:
    fields = ("name", "base_url", "headers", "auth_type", "auth_username", "verify_tls", "timeout_seconds")
    return {f: getattr(t, f) for f in fields}


def _validated(data: dict[str, Any], instance: Target | None = None) -> dict[str, Any]:
    """The target form's checks (safe base URL, headers, auth needs its credentials)."""
    data = {k: ("" if v is None and k in ("auth_password", "auth_token") else v) for k, v in data.items()}
    return check_form(TargetForm(data, instance=instance))


@router.get("", response=responses({200: list[TargetOut]}), url_name="targets-list")
@paginate(Pagination)
def target_list(request: HttpRequest, team: int | None = Query(None)) -> Any:  # type: ignore[assignment]
    qs = access.visible(Target.objects.all(), user=request.user).order_by("name", "id")
    if (team_id := team_filter(request, team)) is not None:
        qs = qs.filter(team_id=team_id)
    return qs


@router.post("", response=responses({201: TargetOut}), url_name="targets-create")
def target_create(request: HttpRequest, payload: TargetCreate) -> Status[Target]:
    team = editable_team(request, payload.team)
    data = _validated(payload.dict(exclude={"team"}))
    return Status(201, catalog.target_create(team=team, data=data, user=request.user))


@router.get("/{int:target_id}", response=responses({200: TargetOut}), url_name="targets-detail")
def target_get(request: HttpRequest, target_id: int) -> Target:
    return access.object_for(request, Target.objects.all(), target_id)


@router.put("/{int:target_id}", response=responses({200: TargetOut}), url_name="targets-update")
def target_put(request: HttpRequest, target_id: int, payload: TargetIn) -> Target:
    target = access.object_for(request, Target.objects.all(), target_id, role=access.EDITOR)
    data = _validated(payload.dict(), instance=target)
    return catalog.target_update(target=target, data=data)


@router.patch("/{int:target_id}", response=responses({200: TargetOut}), url_name="targets-patch")
def target_patch(request: HttpRequest, target_id: int, payload: TargetPatch) -> Target:
    target = access.object_for(request, Target.objects.all(), target_id, role=access.EDITOR)
    data = _validated(merged(_current(target), payload), instance=target)
    return catalog.target_update(target=target, data=data)


@router.delete("/{int:target_id}", response=responses({204: None, 409: Error}), url_name="targets-delete")
def target_delete(request: HttpRequest, target_id: int) -> Status[None]:
    target = access.object_for(request, Target.objects.all(), target_id, role=access.EDITOR)
    try:
        catalog.target_delete(target=target)
    except catalog.CatalogError as exc:
        raise HttpError(409, str(exc)) from None
    return Status(204, None)
