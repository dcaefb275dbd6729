"""How tests start `manage.py up` as a newcomer does: the embedded default (SQLite and the
filesystem broker in a data dir of the test's own), none of the test session's settings.

`up` uses its own SQLite whatever database the suite is testing, and none of the tests that
start it use the database under test, so they run once, in the first pass of `manage.py test`.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

# The test session's database, broker, queues and keys: a newcomer has none of them.
SESSION_ONLY = frozenset(
    {
        "DATABASE_URL",
        "REDIS_URL",
        "CELERY_BROKER_URL",
        "SCALETEST_QUEUE",
        "SCALETEST_GENERATOR_QUEUE",
        "SCALETEST_ALLOWLIST",
        "SECRET_KEY",
        "DJANGO_SETTINGS_MODULE",
        "SCALETEST_TEST_DB_NAME",
        "SCALETEST_TEST_DB",
    }
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def embedded_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment for `up` (or a worker it would start) with its data in ``data_dir``."""
    env = {k: v for k, v in os.environ.items() if k not in SESSION_ONLY}
    env.update(SCALETEST_DATA_DIR=str(data_dir), SCALETEST_NO_BOOTSTRAP="1", PYTHONUNBUFFERED="1", **extra)
    return env
