"""A team's audit trail, for its admins (the same entries as the team's audit page)."""

# No `from __future__ import annotations`: ninja reads the handlers' annotations at import.

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router
from ninja.errors import HttpError
from ninja.pagination import paginate

from runs import access
from runs.api._common import Pagination, check_form, responses
from runs.api.schemas.audit import AuditEntryOut, AuditFilter
from runs.forms.audit import AuditFilterForm
from runs.selectors import audit

router = Router(tags=["audit"])


@router.get("", response=responses({200: list[AuditEntryOut], 422: Any}), url_name="audit-list")
@paginate(Pagination)
def audit_list(request: HttpRequest, filters: Query[AuditFilter]) -> Any:
    """Entries of one team, newest first; ``?action=&actor=&days=`` narrow them down."""
    membership = access.membership_of(user=request.user, team_id=filters.team)
    if membership is None:
        raise HttpError(404, f"No team #{filters.team}.")
    if not membership.can(access.ADMIN):
        raise HttpError(403, f"Only admins of “{membership.team}” can read its audit trail.")
    data = check_form(
        AuditFilterForm({"action": filters.action, "actor": filters.actor, "days": filters.days}), ["query"]
    )
    entries = audit.audit_entries(
        team_id=filters.team,
        action=data["action"],
        actor=(data["actor"] or "").strip(),
        since=audit.since_days(data["days"]),
    )
    return entries  # paginated in the database
