"""The answer to a locked-out sign-in (django-axes' AXES_LOCKOUT_CALLABLE): a 429 page that
says how long, with ``Retry-After``."""

from __future__ import annotations

from typing import Any

from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def lockout_response(request: HttpRequest, response: Any = None, credentials: Any = None) -> HttpResponse:
    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else 0
    context = {
        "failure_limit": get_failure_limit(request, credentials),
        "username": get_client_username(request, credentials) or "",
        "cooloff_minutes": max(1, round(seconds / 60)),
    }
    answer = render(
        request,
        "registration/locked_out.html",
        context,
        status=getattr(settings, "AXES_HTTP_RESPONSE_CODE", 429),
    )
    if seconds:
        answer["Retry-After"] = str(seconds)
    return answer
