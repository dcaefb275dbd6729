"""Per-request context: the audit trail's "who, from where, how", and the token rate limit.

``RequestContextMiddleware`` makes the request visible to ``runs.services.audit`` for the time
of the request (a context variable, so services need no request argument), and refuses, with a
429 and ``Retry-After``, token lookups from an address that guessed too many wrong tokens
(``runs.security.throttle``): API calls that carry an ``Authorization`` header, and share-link
URLs (/s/<token>/…). The failures themselves are counted where the lookup fails
(``runs.api.auth.TokenAuth``, ``runs.views.shares._shared``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from runs.security import throttle
from runs.security.client import client_address
from runs.services import audit


def throttle_scope(request: HttpRequest) -> str | None:
    """Which token lookup this request makes, if any."""
    match = request.resolver_match
    if match is None:
        return None
    if (match.url_name or "").startswith("share-"):
        return throttle.SHARE_TOKEN
    if "api" in match.namespaces and "authorization" in request.headers:
        return throttle.API_TOKEN
    return None


def too_many(request: HttpRequest, retry_after: int) -> HttpResponse:
    message = f"Too many wrong tokens from your address: try again in {retry_after} s."
    response: HttpResponse = JsonResponse({"detail": message}, status=429)
    if throttle_scope(request) == throttle.SHARE_TOKEN and not request.path.endswith(".json"):
        response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    return response


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with audit.request_context(request):
            return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> HttpResponse | None:
        scope = throttle_scope(request)
        if scope is None:
            return None
        retry_after = throttle.throttle_retry_after(scope=scope, address=client_address(request))
        return None if retry_after is None else too_many(request, retry_after)
