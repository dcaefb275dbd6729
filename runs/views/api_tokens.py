"""The "API tokens" page: create (the token is shown once) and revoke personal API tokens."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from runs.access import signed_in
from runs.forms.api_tokens import ApiTokenForm
from runs.models import ApiToken
from runs.services.api_tokens import TokenError, api_token_create, api_token_revoke


@never_cache  # the page that shows a new token must not be kept by any cache
@require_http_methods(["GET", "POST"])
@login_required
def api_tokens(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        try:
            _, new_token = api_token_create(
                user=request.user,
                name=form.cleaned_data["name"],
                expires_in_days=form.cleaned_data["expires_in_days"],
            )
        except TokenError as exc:
            form.add_error(None, str(exc))
        else:
            form = ApiTokenForm()
    context = {
        "form": form,
        "new_token": new_token,
        "tokens": ApiToken.objects.filter(user=signed_in(request)),
        "now": timezone.now(),
    }
    return render(request, "runs/api_tokens.html", context)


@require_POST
@login_required
def api_token_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    api_token_revoke(token=token)
    messages.success(request, f"Revoked the token “{token.name}” ({token.prefix}…).")
    return redirect("api-tokens")
