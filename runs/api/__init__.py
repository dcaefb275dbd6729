"""The REST API under /api/v1/: one NinjaAPI, one router per resource.

Handlers stay thin: they scope through ``runs.access`` and call the same services, selectors and
forms the pages use. Errors are ``{"detail": "..."}``; request validation errors are 422 with
``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}`` (ninja's shape, also for the forms'
own checks). The docs page uses the Swagger UI files shipped inside the ninja package, served
by our static files (no CDN).
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.signals import got_request_exception
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI, Swagger
from ninja.errors import HttpError, ValidationError

from runs.api.auth import AUTH
from runs.api.parser import NulRefusingParser

DESCRIPTION = """
Everything the pages do, for scripts and CI.

**Authentication.** Create a token on the *API tokens* page (top bar, next to your name) and send
`Authorization: Bearer st_…`. In the browser your session works too (unsafe methods then need
the `X-CSRFToken` header, which this page adds).

**Teams.** You see the objects of the teams you belong to; another team's object is a 404,
the same as an id that does not exist. Viewers read; editors create, edit, start and cancel;
admins manage members (403 otherwise). Endpoints that create an object take an optional `team`
id (you need the editor role there); without it the object goes to your first team by name.

**Errors.** `{"detail": "…"}`; invalid input is a 422 with
`{"detail": [{"loc": […], "msg": "…", "type": "…"}]}`.
"""

log = logging.getLogger("django.request")

api = NinjaAPI(
    title="ScaleTest API",
    version="1",
    description=DESCRIPTION,
    auth=AUTH,
    parser=NulRefusingParser(),
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url="/docs",
    # validatorUrl: Swagger UI would otherwise load a badge from validator.swagger.io.
    docs=Swagger(settings={"validatorUrl": None, "persistAuthorization": False}),
)


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc) or "Not found."}, status=404)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    cause = exc.__cause__
    if isinstance(cause, ValidationError):  # the parser refused the body (NUL characters)
        return api.create_response(request, {"detail": cause.errors}, status=422)
    if isinstance(cause, json.JSONDecodeError):
        detail = f"The body is not valid JSON: {cause.msg} (line {cause.lineno}, column {cause.colno})."
        return api.create_response(request, {"detail": detail}, status=400)
    return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)


@api.exception_handler(PermissionDenied)
def forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc) or "Your role does not allow that."}, status=403)


@api.exception_handler(DjangoValidationError)
def model_invalid(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    """A model's own checks (``full_clean`` in the services), as a 422 like the others."""
    if hasattr(exc, "error_dict"):
        items = [
            {
                "loc": ["body", field] if field != "__all__" else ["body"],
                "msg": message,
                "type": "value_error",
            }
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
    else:
        items = [{"loc": ["body"], "msg": message, "type": "value_error"} for message in exc.messages]
    return api.create_response(request, {"detail": items}, status=422)


@api.exception_handler(RequestDataTooBig)
def too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    megabytes = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / (1024 * 1024)
    return api.create_response(
        request, {"detail": f"The request body is larger than {megabytes:g} MB."}, status=413
    )


@api.exception_handler(Exception)
def server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    """Anything else is a bug: a JSON 500 (API clients parse every answer), logged with its
    traceback and announced like Django's own 500s (``got_request_exception``)."""
    log.error("API error on %s %s", request.method, request.path, exc_info=exc)
    got_request_exception.send(sender=None, request=request)
    return api.create_response(
        request, {"detail": "Internal server error: the server log has the details."}, status=500
    )


def unknown_path(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any other path under /api/v1/ (e.g. /runs/-1): a JSON 404 like the API's own."""
    return JsonResponse({"detail": "Not found."}, status=404)


from runs.api import audit, control, metrics, plans, profiles, runs, scenarios, targets, teams  # noqa: E402

api.add_router("/teams", teams.router)
api.add_router("/targets", targets.router)
api.add_router("/scenarios", scenarios.router)
api.add_router("/profiles", profiles.router)
api.add_router("/plans", plans.router)
api.add_router("/runs", runs.router)
api.add_router("/runs", control.router)  # live control: /runs/{id}/control, stop-early, timeline
api.add_router("/audit", audit.router)
api.add_router("/metrics", metrics.router)
