"""A team's audit trail, for its admins: who did what, when, from where; filterable, paged."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from runs import access
from runs.forms.audit import AuditFilterForm
from runs.selectors import audit

ENTRIES_PER_PAGE = 50


@require_GET
@login_required
def team_audit(request: HttpRequest, pk: int) -> HttpResponse:
    membership = access.membership_of(user=request.user, team_id=pk)
    if membership is None:
        raise Http404("No such team.")
    if not membership.can(access.ADMIN):
        raise PermissionDenied(f"Only admins of “{membership.team}” can read its audit trail.")
    form = AuditFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    entries = audit.audit_entries(
        team_id=pk,
        action=data.get("action") or "",
        actor=(data.get("actor") or "").strip(),
        since=audit.since_days(data.get("days")),
    )
    if form.errors:
        entries = entries.none()
    page = Paginator(entries, ENTRIES_PER_PAGE).get_page(request.GET.get("page"))
    filters = {k: v for k, v in data.items() if v not in (None, "")}
    context = {
        "team": membership.team,
        "form": form,
        "page": page,
        "filter_query": urlencode(filters),
        "time_zone": settings.TIME_ZONE,
        "retention_days": settings.SCALETEST_AUDIT_RETENTION_DAYS,
    }
    return render(request, "runs/audit_list.html", context, status=200 if not form.errors else 400)
