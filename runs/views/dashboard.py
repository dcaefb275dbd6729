from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from runs import access
from runs.selectors import catalog as selectors_catalog
from runs.selectors import runs as selectors


@require_GET
@access.team_view()
def dashboard(request: access.TeamRequest) -> HttpResponse:
    context = {
        "runs": selectors.runs_recent(team=request.team, limit=10),
        "plans": selectors_catalog.plan_list(team=request.team).order_by("-updated_at", "-id")[:20],
    }
    return render(request, "runs/dashboard.html", context)
