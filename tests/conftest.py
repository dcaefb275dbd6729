"""Shared fixtures: a local demo target, a real Celery worker, personas and a plan factory.

Fixture names are shared with the whole test suite; keep them stable:

* ``target_server`` (session): base URL of the demo target (runs/core/demo_target.py) served in
  a thread of the test process; ``demo_target`` gives the server object itself.
* ``live_worker`` (session): a real Celery worker subprocess (prefork, 2 processes) consuming
  this session's queue, connected to the pytest-django test database. Tests that use it need
  ``transactional_db``: the worker only sees committed rows.
* Personas: ``alice`` (password ``alice-password-123``) is the admin of "Alice's team"
  (``team``); ``bob`` is an editor and ``victor`` a viewer on her team; ``carol`` is the admin
  of "Carol's team" and sees nothing of Alice's.
* ``make_plan``: builds Target + Scenario (one step) + LoadProfile + TestPlan, in Alice's team
  unless ``team=`` says otherwise.
* ``generator_worker`` (session): a second worker, on this session's generator queue only
  (concurrency 2, no prefetch), for distributed runs.
* ``collected_static`` (session, autouse): the static files collected as `manage.py up` does
  (hashed names, compressed copies, a strict manifest), so every page a test renders links
  what users get, and a template naming a file the collection lacks fails. ``live_server``
  serves them through WhiteNoise, as gunicorn does, not from the finders.

The suite runs on PostgreSQL and on SQLite (tests/_env.py). A test about PostgreSQL itself
carries ``@pytest.mark.postgres_only(reason=...)``: on SQLite it is reported as skipped with
that reason (never silently), and the reason names its SQLite counterpart (docs/databases.md).
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import pytest

from runs.core.demo_target import DemoTarget, start_demo_target

BASE_DIR = Path(__file__).resolve().parent.parent
ALICE_PASSWORD = "alice-password-123"
WORKER_START_TIMEOUT = 60.0


# -- static files, as users get them -----------------------------------------------------------
@pytest.fixture(scope="session", autouse=True)
def collected_static() -> Path:
    from django.conf import settings
    from django.contrib.staticfiles.storage import ManifestStaticFilesStorage, staticfiles_storage

    from scaletest_site.staticfiles import static_collect

    static_collect()
    # A storage set up before the collection would hold an empty manifest.
    storage = cast(ManifestStaticFilesStorage, staticfiles_storage)
    # load_manifest returns (paths, hash) since Django 4.2; django-stubs still say a dict.
    storage.hashed_files, storage.manifest_hash = storage.load_manifest()  # type: ignore[assignment]
    return Path(settings.STATIC_ROOT)


@pytest.fixture(autouse=True)
def fresh_token_throttle() -> None:
    """Every test starts with no failed token lookups counted against 127.0.0.1 (the test
    client's and the live server's address). The counters live in the session's cache for a
    5-minute window, so without this the 20 allowed failures are shared by every test in the
    window and a test that presents a revoked or wrong token can make a later one get 429."""
    from runs.security.throttle import SCOPES, throttle_reset

    for scope in SCOPES:
        throttle_reset(scope=scope, address="127.0.0.1")


def _wsgi_app_only(_media_handler: Any) -> Any:
    """The live server's "static handler": the plain WSGI app (WhiteNoise in its middleware),
    in place of Django's handlers that serve from the finders and from MEDIA_ROOT."""
    from django.core.handlers.wsgi import WSGIHandler

    return WSGIHandler()


@pytest.fixture(scope="session")
def live_server(request: pytest.FixtureRequest, collected_static: Path) -> Iterator[Any]:
    """pytest-django's live server, serving static files as gunicorn does under `up`."""
    from pytest_django.live_server_helper import LiveServer

    addr = (
        request.config.getvalue("liveserver") or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS") or "localhost"
    )
    server = LiveServer(addr, start=False)
    # Django calls static_handler(handler): any such callable works; the stubs name its class.
    server.thread.static_handler = _wsgi_app_only  # type: ignore[assignment]
    server.start()
    yield server
    server.stop()


# -- which database, which tests ------------------------------------------------------------------
# A test needing none of these never touches the database under test: it gives the same answer
# on both, so `manage.py test` runs it in one database's pass only (--database-tests-only). So
# does a test marked ``first_database_only``: it uses the database only to keep what it measures
# (the load generator's accuracy, the browser's view of the markup), through paths other tests
# check on both; its reason names them.
DATABASE_FIXTURES = frozenset(
    {
        "db",
        "transactional_db",
        "django_db_reset_sequences",
        "django_db_serialized_rollback",
        "live_server",
        "django_db_setup",  # not django_db_blocker: pytest-django asks it for every test
    }
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database-tests-only",
        action="store_true",
        help="Run only the tests that use the database under test and are not marked "
        "first_database_only (manage.py test passes it to the second database's pass: the "
        "others already ran in the first).",
    )


def uses_database(item: pytest.Item) -> bool:
    return item.get_closest_marker("django_db") is not None or bool(
        DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
    )


def second_pass_runs(item: pytest.Item) -> bool:
    """Whether the second database's pass runs ``item``: it uses the database, and its answer
    can depend on which one (not marked ``first_database_only``)."""
    return uses_database(item) and item.get_closest_marker("first_database_only") is None


def pytest_report_header(config: pytest.Config) -> str:
    from django.db import connection

    only = " (only the tests that use it)" if config.getoption("--database-tests-only") else ""
    return f"database under test: {connection.vendor}{only}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from django.db import connection

    for item in items:
        marker = item.get_closest_marker("first_database_only")
        if marker is not None and not (marker.kwargs.get("reason") or marker.args):
            raise pytest.UsageError(
                f"{item.nodeid}: first_database_only needs reason=... (why the database does not "
                "change its answer, and which tests cover its storage on both)"
            )
    if config.getoption("--database-tests-only"):
        kept = [item for item in items if second_pass_runs(item)]
        if len(kept) < len(items):
            config.hook.pytest_deselected(items=[item for item in items if not second_pass_runs(item)])
            items[:] = kept
    for item in items:
        marker = item.get_closest_marker("postgres_only")
        if marker is None:
            continue
        reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
        if not reason:
            raise pytest.UsageError(
                f"{item.nodeid}: postgres_only needs reason=... (why, and its SQLite counterpart)"
            )
        if connection.vendor != "postgresql":
            item.add_marker(pytest.mark.skip(reason=f"PostgreSQL only: {reason}"))


# -- the demo target ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def demo_target() -> Iterator[DemoTarget]:
    target = start_demo_target()
    yield target
    target.stop()


@pytest.fixture(scope="session")
def target_server(demo_target: DemoTarget) -> str:
    return demo_target.url


# -- a real Celery worker ----------------------------------------------------------------------
@dataclass
class LiveWorker:
    proc: subprocess.Popen[str]
    hostname: str
    queue: str
    output: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=500))
    ready: threading.Event = field(default_factory=threading.Event)
    lines: int = 0  # every line read so far (``output`` keeps the last 500)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(list(self.output)[-lines:])

    def log_since(self, mark: int) -> list[str]:
        """The lines logged after ``mark`` (a value of ``lines`` taken earlier), as kept."""
        return list(self.output)[-(self.lines - mark) :] if self.lines > mark else []

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line.rstrip())
            self.lines += 1
            if " ready." in line:
                self.ready.set()

    def stop(self, timeout: float = 30.0) -> int:
        """Warm shutdown (SIGTERM), then SIGKILL if it does not exit in ``timeout``."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        return self.proc.returncode


def database_url(settings_dict: dict[str, Any]) -> str:
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user = quote(settings_dict.get("USER") or "", safe="")
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{quote(password, safe='')}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"


def start_worker(
    *,
    queue: str,
    extra_env: dict[str, str] | None = None,
    concurrency: int = 2,
    extra_args: list[str] | None = None,
) -> LiveWorker:
    """Start ``celery worker`` on ``queue`` against the current (test) database; wait until ready."""
    from django.db import connection

    hostname = f"scaletest-test-{uuid.uuid4().hex[:8]}@%h"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(connection.settings_dict),
        "SCALETEST_QUEUE": queue,
        "SCALETEST_NO_BOOTSTRAP": "1",
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "scaletest_site",
            "worker",
            "-Q",
            queue,
            "--pool=prefork",
            "-c",
            str(concurrency),
            "-l",
            "info",
            "-n",
            hostname,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            *(extra_args or []),
        ],
        cwd=str(BASE_DIR),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a Ctrl-C on pytest does not hit it mid-test; teardown stops it
    )
    worker = LiveWorker(proc=proc, hostname=hostname, queue=queue)
    threading.Thread(target=worker._pump, name="celery-worker-output", daemon=True).start()
    deadline = time.monotonic() + WORKER_START_TIMEOUT
    while not worker.ready.wait(0.2):
        if proc.poll() is not None or time.monotonic() > deadline:
            worker.stop(timeout=5)
            raise RuntimeError(f"the Celery worker did not start:\n{worker.log_tail()}")
    return worker


@pytest.fixture(scope="session")
def live_worker(django_db_setup: None, django_db_blocker: Any) -> Iterator[LiveWorker]:
    # Depending on django_db_setup makes this tear down first: the worker lets go of the
    # test database before pytest-django drops it.
    with django_db_blocker.unblock():
        worker = start_worker(queue=os.environ["SCALETEST_QUEUE"])
    yield worker
    worker.stop()


@pytest.fixture(scope="session")
def generator_worker(django_db_setup: None, django_db_blocker: Any) -> Iterator[LiveWorker]:
    """A second real Celery worker, on this session's generator queue only: two generator
    processes (one run slot each, no prefetch), as a generator host runs it (docs/scaling.md)."""
    with django_db_blocker.unblock():
        worker = start_worker(
            queue=os.environ["SCALETEST_GENERATOR_QUEUE"], concurrency=2, extra_args=["--disable-prefetch"]
        )
    yield worker
    worker.stop()


# -- personas and factories --------------------------------------------------------------------
def make_user(username: str, *, team: Any = None, role: str = "viewer") -> Any:
    """A user who can log in with ``<username>-password-123``, in ``team`` with ``role``."""
    from django.contrib.auth import get_user_model

    from runs.models import Membership

    user = get_user_model().objects.create_user(
        username=username, email=f"{username}@example.com", password=f"{username}-password-123"
    )
    if team is not None:
        Membership.objects.create(team=team, user=user, role=role)
    return user


@pytest.fixture
def alice(db: None) -> Any:
    from runs.services.teams import team_create

    user = make_user("alice")
    team_create(name="Alice's team", user=user)
    return user


@pytest.fixture
def team(alice: Any) -> Any:
    """Alice's team (she is its admin)."""
    from runs.models import Team

    return Team.objects.get(memberships__user=alice)


@pytest.fixture
def bob(team: Any) -> Any:
    return make_user("bob", team=team, role="editor")


@pytest.fixture
def victor(team: Any) -> Any:
    return make_user("victor", team=team, role="viewer")


@pytest.fixture
def carol(db: None) -> Any:
    from runs.services.teams import team_create

    user = make_user("carol")
    team_create(name="Carol's team", user=user)
    return user


@pytest.fixture
def make_plan(team: Any) -> Callable[..., Any]:
    from runs.models import LoadProfile, Scenario, ScenarioStep, Target, TestPlan

    def make(
        base_url: str,
        path: str = "/",
        *,
        profile_kind: str = "constant",
        params: dict[str, Any] | None = None,
        method: str = "GET",
        step_name: str = "",
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        body_type: str = "none",
        body: str = "",
        expected_statuses: str = "200-399",
        user_class: str = "fast",
        think_time_min: float = 0.0,
        think_time_max: float = 0.0,
        timeout_seconds: float = 10.0,
        target_headers: dict[str, str] | None = None,
        auth_type: str = "none",
        owner: Any = None,
        name: str = "Demo plan",
        team: Any = team,
        generators: int = 1,
    ) -> TestPlan:
        target = Target.objects.create(
            team=team,
            name=f"{name} target",
            base_url=base_url,
            headers=target_headers or {},
            auth_type=auth_type,
            timeout_seconds=timeout_seconds,
            created_by=owner,
        )
        scenario = Scenario.objects.create(
            team=team,
            name=f"{name} scenario",
            user_class=user_class,
            think_time_min=think_time_min,
            think_time_max=think_time_max,
            created_by=owner,
        )
        ScenarioStep.objects.create(
            scenario=scenario,
            name=step_name,
            method=method,
            path=path,
            query=query or {},
            headers=headers or {},
            body_type=body_type,
            body=body,
            expected_statuses=expected_statuses,
        )
        profile = LoadProfile.objects.create(
            team=team,
            name=f"{name} profile",
            kind=profile_kind,
            params=params if params is not None else {"users": 2, "duration": 3},
            created_by=owner,
        )
        return TestPlan.objects.create(
            team=team,
            name=name,
            target=target,
            scenario=scenario,
            profile=profile,
            created_by=owner,
            generators=generators,
        )

    return make


# -- headless Chromium (Debian's package; `manage.py test` installs it) ----------------------------
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    # Without these, Chromium tries Google's services at start; this machine's network refuses them.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser_page() -> Iterator[Any]:
    """A Playwright page in headless Chromium. Fails (never skips) when Chromium is missing:
    a browser test that silently does not run would hide a broken page."""
    from playwright.sync_api import sync_playwright

    from runs.management.services_check import chromium_path

    executable = chromium_path()
    if executable is None:
        pytest.fail("Chromium is not installed: run `python3 manage.py test`, which installs it.")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(20_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hasher() -> None:
    """Personas are created per test: PBKDF2 at Django's production cost (~0.7 s a user) would
    dominate the suite. What the tests check of logins is the same with MD5."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
