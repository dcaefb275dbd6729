"""Helpers every resource module uses: team scoping, form errors as 422s, pagination."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import HttpRequest
from ninja import Field, Schema
from ninja.errors import HttpError, ValidationError
from ninja.pagination import LimitOffsetPagination

from runs import access
from runs.api.schemas.common import Error
from runs.models import Membership, Team

MAX_PAGE = 200


class Pagination(LimitOffsetPagination):
    """``?limit=`` (1–200, default 50) and ``?offset=``; the body is ``{"items": [...], "count": n}``."""

    class Input(Schema):
        limit: int = Field(50, ge=1, le=MAX_PAGE)
        offset: int = Field(0, ge=0, le=10**9)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_limit=MAX_PAGE, **kwargs)


def editable_team(request: HttpRequest, team_id: int | None) -> Team:
    """The team a new object goes to: ``team_id`` (the caller must be in it, else 404, as an
    editor, else 403) or, without one, the caller's first team by name."""
    if team_id is None:
        membership = (
            Membership.objects.select_related("team")
            .filter(user=access.signed_in(request))
            .order_by("team__name", "team_id")
            .first()
        )
        if membership is None:
            raise HttpError(400, "You are in no team yet: create one with POST /api/v1/teams.")
    else:
        membership = access.membership_of(user=request.user, team_id=team_id)
        if membership is None:
            raise HttpError(404, f"No team #{team_id}.")
    if not membership.can(access.EDITOR):
        raise HttpError(403, f"Your role in “{membership.team}” does not allow that (needs editor).")
    return membership.team


def team_filter(request: HttpRequest, team_id: int | None) -> int | None:
    """``?team=``: one of the caller's teams (another one is a 404)."""
    if team_id is not None and access.membership_of(user=request.user, team_id=team_id) is None:
        raise HttpError(404, f"No team #{team_id}.")
    return team_id


def form_error_items(form: forms.BaseForm, loc: list[str | int]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for field, errors in form.errors.items():
        where = [*loc] if field == NON_FIELD_ERRORS else [*loc, field]
        items.extend({"loc": where, "msg": str(message), "type": "value_error"} for message in errors)
    return items


def invalid(items: list[dict[str, Any]]) -> ValidationError:
    """A 422 in ninja's own shape: ``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}``."""
    return ValidationError(items)


def check_form(form: forms.BaseForm, loc: list[str | int] | None = None) -> dict[str, Any]:
    if not form.is_valid():
        raise invalid(form_error_items(form, loc or ["body"]))
    return form.cleaned_data


def merged(current: dict[str, Any], patch: Schema) -> dict[str, Any]:
    """``current`` with the fields the PATCH body set."""
    full = patch.dict()  # nested bodies (steps) with their defaults filled in
    return {**current, **{key: full[key] for key in patch.model_fields_set}}


def responses(ok: dict[int, Any]) -> dict[int, Any]:
    """``ok`` plus the error bodies every authenticated endpoint may answer."""
    return {**ok, 401: Error, 403: Error, 404: Error}
