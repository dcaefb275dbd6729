"""pytest plugin loaded with -p before Django reads its settings: the test environment.

Tests run against the real PostgreSQL and Redis on 127.0.0.1 (the test command starts them
when they are stopped). Each session gets its own Celery queue name, so a stray worker of the
embedded mode or another session never picks up a test's run.
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/scaletest")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("SCALETEST_QUEUE", f"scaletest-test-{os.getpid()}")
os.environ.setdefault("SCALETEST_GENERATOR_QUEUE", f"scaletest-test-{os.getpid()}-generators")
os.environ.setdefault("SCALETEST_DATA_DIR", tempfile.mkdtemp(prefix="scaletest-test-"))
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SCALETEST_STOP_GRACE_SECONDS", "3")
# A database of its own per session: two suites on one machine never drop each other's.
os.environ.setdefault("SCALETEST_TEST_DB_NAME", f"test_scaletest_{os.getpid()}")
# Tests aim runs at loopback targets on ephemeral ports; production allowlists only the demo.
os.environ.setdefault("SCALETEST_ALLOWLIST", "127.0.0.1/32,::1/128")
