from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from runs.models import LoadProfile, Scenario, Target
from runs.selectors import catalog as selectors_catalog
from runs.services.catalog import CatalogError


def confirm_delete(
    request: HttpRequest,
    *,
    obj: Target | Scenario | LoadProfile,
    what: str,
    delete: Any,
    list_url: str,
    back_url: str,
) -> HttpResponse:
    """The GET confirmation page and the POST that deletes, for objects plans may use."""
    if request.method == "POST":
        try:
            delete()
        except CatalogError as exc:
            messages.error(request, str(exc))
            return redirect(back_url)
        messages.success(request, f"Deleted {what} “{obj}”.")
        return redirect(list_url)
    context = {
        "obj": obj,
        "what": what,
        "used_by": selectors_catalog.plans_using(obj=obj),
        "back_url": back_url,
    }
    return render(request, "runs/confirm_delete.html", context)
