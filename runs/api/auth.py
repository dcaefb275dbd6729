"""How API callers authenticate: a personal token, or the browser's session.

* ``Authorization: Bearer st_…`` — a token from the "API tokens" page. No CSRF: a browser never
  adds this header by itself. When the header is there, the session is ignored, so a wrong
  token is a 401 even for someone logged in.
* The session cookie — so the docs page's "Try it out" works when logged in. Unsafe methods
  then need the CSRF token (``X-CSRFToken``), as every form of the site does.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import HttpBearer
from ninja.security.apikey import APIKeyCookie
from ninja.utils import check_csrf

from runs.security import throttle
from runs.security.client import client_address
from runs.services.api_tokens import api_token_authenticate


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any | None:
        user = api_token_authenticate(token=token)
        if user is None:  # counted per address; too many: 429 (runs.security.middleware)
            throttle.throttle_failure(scope=throttle.API_TOKEN, address=client_address(request))
        else:
            # access.visible / object_for read request.user.
            request.user = user
        return user


class SessionAuth(APIKeyCookie):
    """Django's session, with CSRF enforced on unsafe methods."""

    param_name: str = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=True)  # also makes the docs page send X-CSRFToken

    def _get_key(self, request: HttpRequest) -> str | None:
        if "authorization" in request.headers or not request.user.is_authenticated:
            return None
        if request.method not in ("GET", "HEAD", "OPTIONS", "TRACE") and check_csrf(request) is not None:
            raise HttpError(
                403, "CSRF check failed: send the X-CSRFToken header with the csrftoken cookie's value."
            )
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any | None:
        return request.user if key is not None and request.user.is_authenticated else None


AUTH = [TokenAuth(), SessionAuth()]
