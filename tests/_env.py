"""pytest plugin loaded with -p before Django reads its settings: the test environment.

``SCALETEST_TEST_DB`` picks the database under test: ``postgres`` (default; the real server on
127.0.0.1) or ``sqlite`` (the embedded default, a file in this session's data dir so the real
Celery workers the tests start share it). `manage.py test` runs the suite once with each.
Redis on 127.0.0.1 is the broker in both (the test command starts it when it is stopped);
tests/test_up.py covers the embedded filesystem broker. Each session gets its own Celery queue
name, so a stray worker of the embedded mode or another session never picks up a test's run.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

TEST_DB = os.environ.setdefault("SCALETEST_TEST_DB", "postgres")
if TEST_DB not in {"postgres", "sqlite"}:
    raise SystemExit(f"SCALETEST_TEST_DB must be postgres or sqlite, not {TEST_DB!r}")
DATA_DIR = os.environ.setdefault("SCALETEST_DATA_DIR", tempfile.mkdtemp(prefix=f"scaletest-test-{TEST_DB}-"))
if TEST_DB == "sqlite":
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{DATA_DIR}/scaletest.sqlite3")
    # A file, not pytest-django's in-memory default: the tests' Celery workers open it too.
    os.environ.setdefault("SCALETEST_TEST_DB_NAME", f"{DATA_DIR}/test_scaletest.sqlite3")
else:
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/scaletest")
    # A database of its own per session: two suites on one machine never drop each other's.
    os.environ.setdefault("SCALETEST_TEST_DB_NAME", f"test_scaletest_{os.getpid()}")
# Static files as `manage.py up` serves them (hashed, compressed; scaletest_site/staticfiles.py),
# collected once per checkout into the same folder `up` uses: a session pays for the collection
# only when a static file changed, and so does an `up` that a test starts.
os.environ.setdefault("SCALETEST_STATIC_ROOT", str(Path(__file__).resolve().parent.parent / "var" / "static"))
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("SCALETEST_QUEUE", f"scaletest-test-{os.getpid()}")
# The cache (rate-limit counters) lives in the shared Redis too: keys of their own per session.
os.environ.setdefault("SCALETEST_CACHE_PREFIX", f"scaletest-test-{os.getpid()}")
os.environ.setdefault("SCALETEST_GENERATOR_QUEUE", f"scaletest-test-{os.getpid()}-generators")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SCALETEST_STOP_GRACE_SECONDS", "3")
# Notification retries wait 1 s, 2 s, … (production: 30 s, 60 s, …), so a retry after a 500 is seen soon.
os.environ.setdefault("SCALETEST_NOTIFY_RETRY_BACKOFF_SECONDS", "1")
# Tests aim runs at loopback targets on ephemeral ports; production allowlists only the demo.
os.environ.setdefault("SCALETEST_ALLOWLIST", "127.0.0.1/32,::1/128")
