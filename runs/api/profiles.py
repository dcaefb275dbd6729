"""Load profiles, validated by ``runs.core.profiles.validate_profile`` with the form's limits."""

# No `from __future__ import annotations`: ninja reads the handlers' annotations at import.

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Query, Router
from ninja.errors import HttpError
from ninja.pagination import paginate
from ninja.responses import Status

from runs import access
from runs.api._common import Pagination, editable_team, invalid, merged, responses, team_filter
from runs.api.schemas.common import Error
from runs.api.schemas.profiles import ProfileCreate, ProfileIn, ProfileOut, ProfilePatch
from runs.core import profiles
from runs.models import LoadProfile
from runs.services import catalog

router = Router(tags=["profiles"])


def _params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    try:
        return profiles.validate_profile(
            kind,
            params,
            max_users=settings.SCALETEST_MAX_USERS,
            max_seconds=settings.SCALETEST_MAX_RUN_SECONDS,
        )
    except profiles.ProfileError as exc:
        raise invalid(
            [
                {
                    "loc": ["body", "kind"] if name == "kind" else ["body", "params", name],
                    "msg": msg,
                    "type": "value_error",
                }
                for name, msg in exc.errors.items()
            ]
        ) from None


def _save(
    data: dict[str, Any], *, profile: LoadProfile | None = None, team: Any = None, user: Any = None
) -> LoadProfile:
    params = _params(data["kind"], data["params"])
    return catalog.profile_save(
        name=data["name"], kind=data["kind"], params=params, profile=profile, team=team, user=user
    )


@router.get("", response=responses({200: list[ProfileOut]}), url_name="profiles-list")
@paginate(Pagination)
def profile_list(request: HttpRequest, team: int | None = Query(None)) -> Any:  # type: ignore[assignment]
    qs = access.visible(LoadProfile.objects.all(), user=request.user).order_by("name", "id")
    if (team_id := team_filter(request, team)) is not None:
        qs = qs.filter(team_id=team_id)
    return qs


@router.post("", response=responses({201: ProfileOut}), url_name="profiles-create")
def profile_create(request: HttpRequest, payload: ProfileCreate) -> Status[LoadProfile]:
    team = editable_team(request, payload.team)
    return Status(201, _save(payload.dict(), team=team, user=request.user))


@router.get("/{int:profile_id}", response=responses({200: ProfileOut}), url_name="profiles-detail")
def profile_get(request: HttpRequest, profile_id: int) -> LoadProfile:
    return access.object_for(request, LoadProfile.objects.all(), profile_id)


@router.put("/{int:profile_id}", response=responses({200: ProfileOut}), url_name="profiles-update")
def profile_put(request: HttpRequest, profile_id: int, payload: ProfileIn) -> LoadProfile:
    profile = access.object_for(request, LoadProfile.objects.all(), profile_id, role=access.EDITOR)
    return _save(payload.dict(), profile=profile)


@router.patch("/{int:profile_id}", response=responses({200: ProfileOut}), url_name="profiles-patch")
def profile_patch(request: HttpRequest, profile_id: int, payload: ProfilePatch) -> LoadProfile:
    profile = access.object_for(request, LoadProfile.objects.all(), profile_id, role=access.EDITOR)
    current = {"name": profile.name, "kind": profile.kind, "params": profile.params}
    data = merged(current, payload)
    for key in ("name", "kind", "params"):
        if data[key] is None:
            raise invalid([{"loc": ["body", key], "msg": "Cannot be null.", "type": "value_error"}])
    return _save(data, profile=profile)


@router.delete("/{int:profile_id}", response=responses({204: None, 409: Error}), url_name="profiles-delete")
def profile_delete(request: HttpRequest, profile_id: int) -> Status[None]:
    profile = access.object_for(request, LoadProfile.objects.all(), profile_id, role=access.EDITOR)
    try:
        catalog.profile_delete(profile=profile)
    except catalog.CatalogError as exc:
        raise HttpError(409, str(exc)) from None
    return Status(204, None)
