"""One database's Django settings from its URL: the project's choices for each engine.

Used for the ``default`` database (settings.py) and by ``manage.py copy_database`` for the
database it copies into, so both are opened the same way.
"""

from __future__ import annotations

from typing import Any

import dj_database_url


def database_from_url(url: str) -> dict[str, Any]:
    config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Web, worker and run ingestion write concurrently: WAL lets readers go on while one
        # writer holds the lock, IMMEDIATE takes the write lock up front instead of failing on
        # upgrade, and the timeout waits for it.
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    return config
