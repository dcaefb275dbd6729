#!/bin/sh
# Container entrypoint: runs its arguments as the command, plus two healthcheck helpers.
#   healthcheck-web     GET http://127.0.0.1:8000/healthz, exit 0 only on HTTP 200
#   healthcheck-worker  the Celery worker in this container answers a ping
set -eu

case "${1:-}" in
    healthcheck-web)
        # Django rejects a Host that is not in ALLOWED_HOSTS (400), and with SCALETEST_HTTPS=true
        # redirects plain HTTP to https (301): so the probe presents the first allowed host and
        # the header the TLS proxy would add. Redirects are not followed; only 200 is healthy.
        exec python - <<'PY'
import os
import sys
import urllib.error
import urllib.request

hosts = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost").split(",") if h.strip()]
host = next((h.lstrip(".") for h in hosts if h != "*"), "localhost")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


opener = urllib.request.build_opener(NoRedirect)
request = urllib.request.Request(
    "http://127.0.0.1:8000/healthz", headers={"Host": host, "X-Forwarded-Proto": "https"}
)
try:
    with opener.open(request, timeout=8) as response:
        sys.exit(0 if response.status == 200 else 1)
except (urllib.error.URLError, OSError) as exc:
    print(f"healthz: {exc}", file=sys.stderr)
    sys.exit(1)
PY
        ;;
    healthcheck-worker)
        exec python manage.py worker_health --local --timeout 5
        ;;
esac

exec "$@"
