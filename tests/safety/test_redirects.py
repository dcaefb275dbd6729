"""A target that redirects elsewhere: the engine never follows, so the other host gets nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from runs.models import Run
from runs.services.runs import run_create

from ..engine.helpers import wait_for
from .conftest import OwnerServer, start_owner_server

pytestmark = pytest.mark.slow


@pytest.fixture
def servers() -> Iterator[tuple[OwnerServer, OwnerServer]]:
    first, second = start_owner_server(), start_owner_server()
    for path in ("/", "/go"):
        first.files[path] = (302, b"", {"Location": f"{second.url}/landing"})
    first.files["/perm"] = (301, b"", {"Location": f"http://localhost:{second.port}/landing"})
    second.files["/landing"] = (200, b"ok", {})
    yield first, second
    first.stop()
    second.stop()


@pytest.mark.parametrize(
    ("user_class", "path"), [("fast", "/go"), ("http", "/go"), ("fast", "/perm"), ("http", "/perm")]
)
def test_a_redirect_to_another_host_is_never_followed(
    transactional_db: None,
    live_worker: Any,
    make_plan: Any,
    servers: tuple[OwnerServer, OwnerServer],
    user_class: str,
    path: str,
) -> None:
    first, second = servers
    plan = make_plan(first.url, path, user_class=user_class, params={"users": 2, "duration": 2})

    run = run_create(plan=plan)
    wait_for(lambda: Run.objects.get(pk=run.pk).status not in Run.ACTIVE, timeout=15, what="the run to end")

    run.refresh_from_db()
    assert run.status == Run.Status.FINISHED, run.error_message
    assert run.total_requests > 0
    assert len(first.requests) >= run.total_requests
    assert second.requests == []  # zero requests reached the second host
