"""gunicorn settings: ``gunicorn --config python:scaletest_site.gunicorn_conf scaletest_site.wsgi``.

gunicorn's master already restarts a worker that dies; this makes the opposite hold too: a
worker never outlives its master. On its own a worker notices a dead master only between
requests (it compares its parent pid about once a second) and then finishes its requests; a
master killed with SIGKILL would leave its workers serving on for that long, holding the port
the restarted master needs.
"""

from __future__ import annotations

from typing import Any

from runs.core.lifetime import die_with_parent


def post_fork(server: Any, worker: Any) -> None:
    # Runs in the new worker, forked by the arbiter's main thread (its only thread).
    die_with_parent(parent_pid=server.pid)
