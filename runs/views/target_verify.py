"""The "Verify ownership" page of a target: the token to publish, and a button that checks it now."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from runs import access
from runs.core.safety import Refused
from runs.models import Target
from runs.services import safety


@require_http_methods(["GET", "POST"])
@access.team_view()
def target_verify(request: HttpRequest, pk: int) -> HttpResponse:
    target = access.object_for(request, Target.objects.all(), pk, role=access.EDITOR)
    try:
        check = safety.target_address_check(base_url=target.base_url)
    except Refused as exc:
        return render(request, "runs/target_verify.html", {"target": target, "refused": str(exc)})
    if request.method == "POST":
        verification = safety.target_verify(target=target)
        if verification.verified_at:
            messages.success(
                request,
                f"Ownership verified for {check.endpoint.netloc}; it is checked again before every run.",
            )
        else:
            messages.error(request, f"Not verified: {verification.last_error}")
        return redirect("runs-target-verify", pk=target.pk)
    verification = safety.target_verification_get(target=target)
    context = {
        "target": target,
        "check": check,
        "verification": verification,
        "proof_url": safety.target_proof_url(target=target, verification=verification),
    }
    return render(request, "runs/target_verify.html", context)
