from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from runs import access
from runs.forms.quick_test import QuickTestForm
from runs.selectors import catalog as selectors_catalog
from runs.selectors import runs as selectors
from runs.views import onboarding


def dashboard_page(request: access.TeamRequest, *, quick_form: QuickTestForm | None = None) -> HttpResponse:
    """The dashboard; with ``quick_form``, the quick test's errors (a 400)."""
    setup = onboarding.setup_progress(team=request.team)
    context: dict[str, Any] = {
        "runs": selectors.runs_recent(team=request.team, limit=10),
        "plans": selectors_catalog.plan_list(team=request.team).order_by("-updated_at", "-id")[:20],
        "setup": setup,
        "can_edit": request.membership.can(access.EDITOR),
        "quick_form": quick_form or QuickTestForm(),
        # Open for a team without runs and after an error; a folded summary otherwise.
        "quick_open": quick_form is not None or setup.runs == 0,
    }
    return render(request, "runs/dashboard.html", context, status=400 if quick_form is not None else 200)


@require_GET
@access.team_view()
def dashboard(request: access.TeamRequest) -> HttpResponse:
    return dashboard_page(request)
