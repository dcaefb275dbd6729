"""ScaleTest settings, read from the environment.

Every variable is listed with its default in docker/.env.example. The defaults form the
embedded mode: SQLite in ./var, a filesystem Celery broker (no Redis), DEBUG off.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from scaletest_site.databases import database_from_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    return value


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DATA_DIR = Path(env_str("SCALETEST_DATA_DIR", str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY", "")
    if key:
        return key
    # Embedded mode: a random key generated once and kept beside the SQLite database, so
    # sessions survive restarts and no guessable default ever ships.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "runs",
    # Failed sign-ins locked out per user and per address (settings below).
    "axes",
    # django-ninja: only for its templates and the Swagger UI files it ships (the docs page).
    "ninja",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Who and from where, for the audit trail (runs.services.audit), and 429s for guessed tokens.
    "runs.security.middleware.RequestContextMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "scaletest_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "runs.access.teams_context",
                "django.template.context_processors.csp",
            ],
        },
    },
]

WSGI_APPLICATION = "scaletest_site.wsgi.application"

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'scaletest.sqlite3'}")
DATABASES = {"default": database_from_url(DATABASE_URL)}
DATABASES["default"].setdefault("TEST", {})
DATABASES["default"]["TEST"]["NAME"] = os.environ.get("SCALETEST_TEST_DB_NAME") or None

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# AxesStandaloneBackend first: it refuses a locked-out user before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "runs-dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where static files are collected: hashed, compressed copies that WhiteNoise serves with a cache
# of ten years (scaletest_site/staticfiles.py). `manage.py up` collects them at start when they
# changed; the Docker image at build time, outside SCALETEST_DATA_DIR, which is a volume that
# would otherwise hide the files (and manifest) of a newer image. A server started without a
# collection answers 500 ("Missing staticfiles manifest entry"); DEBUG=true serves the sources
# through the finders instead (WhiteNoise's defaults follow DEBUG).
STATIC_ROOT = Path(env_str("SCALETEST_STATIC_ROOT", str(DATA_DIR / "static")))

# static/ holds the app's CSS and JS and Plotly's basic bundle (static/vendor/plotly/: scatter,
# bar and pie, the only trace types the charts use; a quarter of plotly.min.js to download, parse
# and run), at the version of the installed plotly package (a test holds them together).
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "scaletest_site.staticfiles.StaticStorage"},
}

# Security headers. SECURE_* that need HTTPS are switched on by SCALETEST_HTTPS=true.
HTTPS = env_bool("SCALETEST_HTTPS", False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Content Security Policy on every response (django.middleware.csp). No inline script anywhere:
# pages load their JS from /static/ and read data from json_script blocks (not executed). The
# offline HTML report sets its own, stricter-for-its-purpose policy in a <meta> tag and inline
# code (runs/exports/report.py); the middleware does not overwrite a header a view has set.
EMPTY_INLINE_STYLE = "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"  # sha256 of ""
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    # Plotly (static/vendor/plotly) styles its modebar and hover labels at run time: it appends
    # an EMPTY <style id="plotly.js-style-…"> to <head> and fills it through CSSOM insertRule,
    # and sets element styles through CSSOM (d3 .style()). CSSOM is not restricted by CSP, but
    # the empty element is inline style: its hash (SHA-256 of "", below) allows exactly an empty
    # <style> and nothing else. No 'unsafe-inline', and style="" attributes stay refused (a hash
    # covers attributes only with 'unsafe-hashes'); templates carry none (the progress bar's
    # width is set by static/js/nav.js). Plotly's own opt-out (.no-inline-styles) would need its
    # CSS shipped separately and still leaves the per-chart modebar rules. tests/pages/test_csp.py
    # opens every page in Chromium under this policy.
    "style-src": [CSP.SELF, EMPTY_INLINE_STYLE],
    # data: for Plotly's modebar "download as PNG" (a data: URL it renders) and the blank
    # favicon (<link rel=icon href="data:,">).
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# Request bodies held in memory (uploads stream to disk and do not count): 11 MB, so a JSON
# body carrying a CSV data source at the page's 5 MB cap fits even with escaping (API).
DATA_UPLOAD_MAX_MEMORY_SIZE = 11 * 1024 * 1024

# --- Sign-in throttling, rate limits, audit -------------------------------------------------
# Reverse proxies in front of the app that append to X-Forwarded-For (0: none, the client is
# REMOTE_ADDR). With N, the client is the Nth address from the right of X-Forwarded-For: the
# one the outermost trusted proxy saw. Used for lockouts, rate limits and the audit trail
# (runs.security.client); a wrong value lets clients pick their own address.
SCALETEST_TRUSTED_PROXIES = env_int("SCALETEST_TRUSTED_PROXIES", 0)
# django-axes: after AXES_FAILURE_LIMIT failed sign-ins for one username (from any address),
# or from one address (for any username), further attempts are refused with a 429 for the
# cool-off, even with the right password. Covers the login page and the admin's (both go
# through django.contrib.auth.authenticate). Unlock early: `manage.py axes_reset_username`.
AXES_FAILURE_LIMIT = env_int("SCALETEST_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SCALETEST_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Failures expire with the cool-off, not on a successful sign-in: a guesser holding one account
# of their own would otherwise reset their address's count between guesses.
AXES_RESET_ON_SUCCESS = False
AXES_CLIENT_IP_CALLABLE = "runs.security.client.client_address"
AXES_LOCKOUT_CALLABLE = "runs.security.lockout.lockout_response"
AXES_VERBOSE = False
# Failed API-token and share-token lookups allowed per address per window; more are answered
# 429 with Retry-After until the window ends (runs.security.throttle, on the cache below).
SCALETEST_TOKEN_FAILURE_LIMIT = env_int("SCALETEST_TOKEN_FAILURE_LIMIT", 20, minimum=1)
SCALETEST_TOKEN_FAILURE_WINDOW_SECONDS = env_int("SCALETEST_TOKEN_FAILURE_WINDOW_SECONDS", 300, minimum=1)
# Audit entries older than this are deleted by the reaper's periodic task; 0 keeps them forever.
SCALETEST_AUDIT_RETENTION_DAYS = env_int("SCALETEST_AUDIT_RETENTION_DAYS", 365)
# Finished runs older than this many days (by finished_at) have their per-second rows rolled up
# into 10-second rows, exactly (runs.services.retention; beat, daily); baselines and pinned runs
# are kept whole. 0 keeps every run at full resolution.
SCALETEST_RETENTION_DAYS = env_int("SCALETEST_RETENTION_DAYS", 0)
# Ended runs older than this many hours (by finished_at) have their per-second rows packed into
# compressed 10-minute blocks, exactly: same figures, a quarter to a third of the bytes
# (runs.services.packing; beat, hourly; pinned runs and baselines too). -1 never packs.
SCALETEST_PACK_AFTER_HOURS = env_int("SCALETEST_PACK_AFTER_HOURS", 1, minimum=-1)

# The cache holds the rate limiter's counters, so it must be shared by every web process: Redis
# when there is one (REDIS_URL), else files in the data directory (embedded mode: web processes
# on one host). Never the per-process memory cache: each process would count on its own.
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env_str("SCALETEST_CACHE_URL", REDIS_URL),
            "KEY_PREFIX": env_str("SCALETEST_CACHE_PREFIX", "scaletest"),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
            "KEY_PREFIX": env_str("SCALETEST_CACHE_PREFIX", "scaletest"),
        }
    }

# --- Celery --------------------------------------------------------------------------------
BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Embedded mode: a broker that needs no server. Web and worker share a folder. Every
    # folder is set: kombu's default control folder (exchange bindings, written by every
    # broadcast such as a worker ping) is ./control, inside whatever directory a process runs in.
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # Seconds between looks at the folder when a queue is empty (kombu's default: 1). Also
        # how late a remote-control answer can be (runs.services.generators asks the generator
        # workers before a distributed run starts); a look is one listdir of a small folder.
        "polling_interval": 0.2,
    }
else:
    # A load test runs for up to SCALETEST_MAX_RUN_SECONDS. Redis redelivers an unacked task
    # after the visibility timeout; we ack early (acks_late off) so a long run is never
    # delivered twice, and the database claim makes any duplicate a no-op anyway.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 6 * 3600}
# A run happens at most once and always ends:
# * acks_late off: the message is acked just before the task executes, before the run starts. A
#   worker killed mid-run (SIGKILL, OOM) is therefore never sent the run again (acks_late
#   would redeliver it after the visibility timeout, or at once with reject_on_worker_lost,
#   and double the load on someone's server); the reaper fails the run instead, keeping what
#   was stored (SCALETEST_REAP_AFTER_SECONDS).
# * The claim in the database (queued -> running) makes any duplicate delivery a no-op, so the
#   reaper may safely send a queued run whose message was lost again (a Redis restart without
#   persistence empties the queue): SCALETEST_REQUEUE_AFTER_SECONDS.
# * prefetch 1: a worker reserves at most one message per pool process, so a queued run is not
#   held by a busy worker while another one idles (an unacked reserved message goes back to
#   the queue when that worker's connection is lost).
CELERY_TASK_ACKS_LATE = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_DEFAULT_QUEUE = env_str("SCALETEST_QUEUE", "scaletest")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# The reaper marks runs whose worker went silent as failed ("worker lost"), keeping their data.
SCALETEST_REAP_AFTER_SECONDS = env_int("SCALETEST_REAP_AFTER_SECONDS", 60, minimum=5)
# A queued run whose message was lost (Redis restarted without persistence) is sent again after
# this long (the database claim makes a duplicate harmless), and given up after the second.
SCALETEST_REQUEUE_AFTER_SECONDS = env_int("SCALETEST_REQUEUE_AFTER_SECONDS", 60, minimum=5)
SCALETEST_QUEUED_TIMEOUT_SECONDS = env_int("SCALETEST_QUEUED_TIMEOUT_SECONDS", 3600, minimum=60)
# Distributed runs (runs.engine.generator): a run with generators > 1 starts its Locust child as
# a master and sends one task per generator to this queue; each runs a Locust worker child that
# connects back to the master over ZeroMQ. Generator hosts run a worker consuming only this queue.
SCALETEST_GENERATOR_QUEUE = (
    env_str("SCALETEST_GENERATOR_QUEUE", "") or f"{CELERY_TASK_DEFAULT_QUEUE}-generators"
)
CELERY_TASK_ROUTES = {"runs.tasks.run_generator": {"queue": SCALETEST_GENERATOR_QUEUE}}
# Most generator processes one run may use (a plan asks for 1..this).
SCALETEST_MAX_GENERATORS = env_int("SCALETEST_MAX_GENERATORS", 8, minimum=1)
# Interface the master binds its ZeroMQ port on (an ephemeral port per run), and the address
# generators connect to. Empty advertise: the bind address, or this host's address when binding
# to every interface (0.0.0.0).
SCALETEST_GENERATOR_BIND = env_str("SCALETEST_GENERATOR_BIND", "127.0.0.1")
SCALETEST_GENERATOR_ADVERTISE = env_str("SCALETEST_GENERATOR_ADVERTISE", "")
# Seconds the master waits for all of a run's generators to join before the run fails.
SCALETEST_GENERATOR_JOIN_TIMEOUT_SECONDS = env_int("SCALETEST_GENERATOR_JOIN_TIMEOUT_SECONDS", 30, minimum=1)
# Beat holds DATA_DIR/beat.lock (runs.core.lifetime) before it opens its schedule file: a second
# beat on the same data dir refuses to start instead of sending every periodic task twice.
CELERY_BEAT_SCHEDULER = "scaletest_site.celery:OneBeatScheduler"
# How often beat sends the reaper (stale runs, lost queued runs).
SCALETEST_REAP_INTERVAL_SECONDS = env_int("SCALETEST_REAP_INTERVAL_SECONDS", 30, minimum=1)
CELERY_BEAT_SCHEDULE = {
    "reap-stale-runs": {
        "task": "runs.tasks.reap_stale_runs",
        "schedule": float(SCALETEST_REAP_INTERVAL_SECONDS),
    },
    # Plans with a cron schedule (TestPlan.schedule, in TIME_ZONE); claimed in the database.
    "start-due-schedules": {
        "task": "runs.tasks.start_due_schedules",
        "schedule": 30.0,
        "options": {"expires": 25},
    },
    # Audit entries past SCALETEST_AUDIT_RETENTION_DAYS (runs.services.audit.audit_purge).
    "purge-audit-entries": {
        "task": "runs.tasks.purge_audit_entries",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
    # Old runs' per-second rows rolled up past SCALETEST_RETENTION_DAYS (runs.services.retention);
    # a no-op when it is 0. Each run is claimed in its own transaction: a duplicate does nothing.
    # Ended runs' per-second rows packed past SCALETEST_PACK_AFTER_HOURS (runs.services.packing);
    # each run is claimed in its own transaction (packed_at): a duplicate does nothing.
    "pack-ended-runs": {
        "task": "runs.tasks.pack_ended_runs",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
    "retention-rollup": {
        "task": "runs.tasks.retention_rollup",
        "schedule": 86400.0,
        "options": {"expires": 3600},
    },
}

# --- Runs ----------------------------------------------------------------------------------
# Hard cap on any run's wall time, whatever its profile says.
SCALETEST_MAX_RUN_SECONDS = env_int("SCALETEST_MAX_RUN_SECONDS", 3 * 3600, minimum=1)
# Slack on top of the planned duration before the parent kills the child.
SCALETEST_RUN_GRACE_SECONDS = env_int("SCALETEST_RUN_GRACE_SECONDS", 15, minimum=1)
# Time the child gets to stop gracefully after a cancel before it is killed.
SCALETEST_STOP_GRACE_SECONDS = env_int("SCALETEST_STOP_GRACE_SECONDS", 3, minimum=1)
SCALETEST_MAX_USERS = env_int("SCALETEST_MAX_USERS", 5000, minimum=1)
# Runs queued or running at once (global for now; runs.services.caps takes a scope for teams).
SCALETEST_MAX_CONCURRENT_RUNS = env_int("SCALETEST_MAX_CONCURRENT_RUNS", 4, minimum=1)
# User-seconds one target may receive in 24 h (measured for ended runs, planned for active
# ones); 0 turns the budget off. The default is 2 000 users for 5 hours.
SCALETEST_TARGET_DAILY_USER_SECONDS = env_int("SCALETEST_TARGET_DAILY_USER_SECONDS", 36_000_000)
# Locustfile scenarios run arbitrary Python in the worker's Locust child: operators allow them
# per team (Team.allow_locustfiles, off by default); false here forbids them for every team
# (runs.services.scenarios.locustfile_allowed).
SCALETEST_ALLOW_LOCUSTFILES = env_bool("SCALETEST_ALLOW_LOCUSTFILES", True)

# --- Targets a run may load (runs.core.safety) ------------------------------------------------
# Port of the demo target `manage.py up` starts; the default allowlist opens it and nothing else.
SCALETEST_DEMO_PORT = env_int("SCALETEST_DEMO_PORT", 8089, minimum=1)
# Hosts, addresses and CIDR ranges that may be tested without proof of ownership, loopback
# and private ones included (more in the admin: Allowed networks). Everything else must be a
# public address whose owner published the target's token.
SCALETEST_ALLOWLIST = env_list("SCALETEST_ALLOWLIST", f"127.0.0.1:{SCALETEST_DEMO_PORT}")
# Timeout of the ownership-proof fetch done before every run.
SCALETEST_VERIFY_TIMEOUT_SECONDS = env_int("SCALETEST_VERIFY_TIMEOUT_SECONDS", 5, minimum=1)
# Seconds one read of a target's metrics source may take (runs.engine.metrics); a slower one is a gap.
SCALETEST_METRICS_TIMEOUT_SECONDS = env_int("SCALETEST_METRICS_TIMEOUT_SECONDS", 2, minimum=1)

# --- Notifications (runs.services.notifications) -----------------------------------------
# Links in notifications point here (no trailing slash), e.g. https://scaletest.example.com.
SCALETEST_BASE_URL = env_str("SCALETEST_BASE_URL", "http://localhost:8000").rstrip("/")
# Webhook hooks go only to public addresses or to those on the allowlist above; each attempt
# has this timeout, and a failed one is tried again with exponential backoff (first wait
# SCALETEST_NOTIFY_RETRY_BACKOFF_SECONDS, doubling, at most an hour) up to the attempt cap.
SCALETEST_NOTIFY_TIMEOUT_SECONDS = env_int("SCALETEST_NOTIFY_TIMEOUT_SECONDS", 10, minimum=1)
SCALETEST_NOTIFY_MAX_ATTEMPTS = env_int("SCALETEST_NOTIFY_MAX_ATTEMPTS", 6, minimum=1)
SCALETEST_NOTIFY_RETRY_BACKOFF_SECONDS = env_int("SCALETEST_NOTIFY_RETRY_BACKOFF_SECONDS", 30, minimum=1)
# E-mail notifications go through Django's default mailer: SMTP (EMAIL_HOST…) unless
# EMAIL_BACKEND names another backend (e.g. django.core.mail.backends.console.EmailBackend).
EMAIL_BACKEND_PATH = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
_SMTP_OPTIONS = {
    "host": env_str("EMAIL_HOST", "localhost"),
    "port": env_int("EMAIL_PORT", 25, minimum=1),
    "username": env_str("EMAIL_HOST_USER", "") or None,
    "password": env_str("EMAIL_HOST_PASSWORD", "") or None,
    "use_tls": env_bool("EMAIL_USE_TLS", False),
    "use_ssl": env_bool("EMAIL_USE_SSL", False),
    "timeout": env_int("EMAIL_TIMEOUT", 10, minimum=1),
}
if _SMTP_OPTIONS["use_tls"] and _SMTP_OPTIONS["use_ssl"]:
    raise ImproperlyConfigured("Set EMAIL_USE_TLS or EMAIL_USE_SSL, not both.")
MAILERS = {
    "default": {
        "BACKEND": EMAIL_BACKEND_PATH,
        "OPTIONS": _SMTP_OPTIONS if EMAIL_BACKEND_PATH.endswith("smtp.EmailBackend") else {},
    }
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ScaleTest <scaletest@localhost>")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["stdout"], "level": env_str("LOG_LEVEL", "INFO")},
    # axes: lockouts are warnings; its info lines (every successful sign-in) are noise.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
