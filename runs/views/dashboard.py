from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from runs import selectors


@require_GET
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    context = {
        "runs": selectors.runs_recent(limit=10),
        "plans": selectors.plan_list().order_by("-updated_at", "-id")[:20],
    }
    return render(request, "runs/dashboard.html", context)
