from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from runs import access, onboarding, selectors
from runs.forms_quick_test import QuickTestForm


def dashboard_page(request: HttpRequest, *, quick_form: QuickTestForm | None = None) -> HttpResponse:
    """The dashboard; with ``quick_form``, the quick test's errors (a 400)."""
    setup = onboarding.setup_progress(team=request.team)  # type: ignore[attr-defined]
    context: dict[str, Any] = {
        "runs": selectors.runs_recent(team=request.team, limit=10),  # type: ignore[attr-defined]
        "plans": selectors.plan_list(team=request.team).order_by("-updated_at", "-id")[:20],  # type: ignore[attr-defined]
        "setup": setup,
        "can_edit": request.membership.can(access.EDITOR),  # type: ignore[attr-defined]
        "quick_form": quick_form or QuickTestForm(),
        # Open for a team without runs and after an error; a folded summary otherwise.
        "quick_open": quick_form is not None or setup.runs == 0,
    }
    return render(request, "runs/dashboard.html", context, status=400 if quick_form is not None else 200)


@require_GET
@access.team_view()
def dashboard(request: HttpRequest) -> HttpResponse:
    return dashboard_page(request)
