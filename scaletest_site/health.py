"""`/healthz`: is this web process able to serve? Used by the Docker HEALTHCHECK and load balancers.

Answers 200 when the database answers a trivial query and, when the broker is Redis, Redis
answers a ping; 503 otherwise. No login, no caching. The body names each dependency and its
state only: never a URL, host name or exception text (those can carry credentials); failures
are logged instead.
"""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

# Short enough that a dead Redis fails the check well inside the HEALTHCHECK timeout.
REDIS_TIMEOUT_SECONDS = 2.0


def _database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.exception("healthz: database check failed")
        return "unavailable"
    return "ok"


def _broker_state() -> str:
    url: str = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://", "unix://")):
        # Embedded mode's filesystem broker has no server to ask.
        return "not-checked"
    client = redis.Redis.from_url(
        url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    except Exception:
        logger.exception("healthz: broker ping failed")
        return "unavailable"
    finally:
        client.close()
    return "ok"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    database = _database_state()
    broker = _broker_state()
    healthy = database == "ok" and broker in ("ok", "not-checked")
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "database": database, "broker": broker},
        status=200 if healthy else 503,
    )
