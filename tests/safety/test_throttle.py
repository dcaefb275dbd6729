"""Throttled authentication: sign-in lockouts (django-axes) and token-guessing rate limits.

Real sign-in attempts go through the login page and the admin's login page with the test
client, each from its own address (REMOTE_ADDR). The cool-off is passed by moving the recorded
attempts back in time, as waiting would; operators unlock with `manage.py axes_reset_username`.
Token lookups are rate-limited on the cache every web process shares: Redis (the test default)
and the embedded mode's file cache, counted across processes too.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import call_command
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse

from runs.models import AuditEntry
from runs.security import throttle
from runs.security.client import client_address
from runs.services.api_tokens import api_token_create
from runs.services.shares import share_create_run
from tests.pages.conftest import make_run, seeded_plan  # noqa: F401  (fixture)

BASE_DIR = Path(__file__).resolve().parents[2]
_addresses = itertools.count(10)


def fresh_address() -> str:
    """A documentation-range address no other test (or earlier run of this one) has used."""
    n = next(_addresses) + (os.getpid() % 200) * 50
    return f"198.51.{100 + n // 250 % 100}.{n % 250 + 1}"


def sign_in(address: str, username: str, password: str, *, url: str = "/accounts/login/") -> Any:
    return Client(REMOTE_ADDR=address).post(url, {"username": username, "password": password})


def signed_in(response: Any) -> bool:
    return response.status_code == 302


# -- sign-in lockouts ---------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_user_is_locked_out_after_the_failure_limit_even_with_the_right_password(alice: Any) -> None:
    address = fresh_address()
    limit = settings.AXES_FAILURE_LIMIT
    answers = [sign_in(address, "alice", "wrong-password").status_code for _ in range(limit)]
    assert answers == [200] * (limit - 1) + [429]  # the form again, then the lockout page
    locked = sign_in(address, "alice", "alice-password-123")
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    assert "Too many failed sign-ins" in locked.content.decode()
    # Per user: the right password from another address is refused too.
    assert sign_in(fresh_address(), "alice", "alice-password-123").status_code == 429
    # The audit trail has every failure (with the address) and the lockout.
    failures = AuditEntry.objects.filter(action=AuditEntry.Action.LOGIN_FAILED, actor_name="alice")
    assert failures.count() == limit + 2
    assert failures.filter(address=address).count() == limit + 1
    lockout = (
        AuditEntry.objects.filter(action=AuditEntry.Action.LOCKED_OUT).order_by("created_at", "pk").first()
    )
    assert lockout is not None
    assert (lockout.actor_name, lockout.address, lockout.via) == ("alice", address, "page")


@pytest.mark.django_db
def test_the_lock_lifts_after_the_cool_off(alice: Any) -> None:
    address = fresh_address()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(address, "alice", "wrong-password")
    assert sign_in(address, "alice", "alice-password-123").status_code == 429
    # The cool-off passes (attempts are judged by their recorded time).
    earlier = settings.AXES_COOLOFF_TIME + timedelta(seconds=5)
    for attempt in AccessAttempt.objects.all():
        AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=attempt.attempt_time - earlier)
    assert signed_in(sign_in(address, "alice", "alice-password-123"))


@pytest.mark.django_db
def test_an_operator_unlocks_an_account_with_axes_reset_username(alice: Any) -> None:
    address = fresh_address()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(address, "alice", "wrong-password")
    assert sign_in(address, "alice", "alice-password-123").status_code == 429
    call_command("axes_reset_username", "alice")
    assert signed_in(sign_in(address, "alice", "alice-password-123"))


@pytest.mark.django_db
def test_one_address_guessing_many_usernames_is_locked_out_for_every_account(alice: Any, bob: Any) -> None:
    guesser = fresh_address()
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(guesser, f"nobody-{n}", "password")
    assert sign_in(guesser, "bob", "bob-password-123").status_code == 429
    # Per address: the same accounts still sign in from elsewhere.
    assert signed_in(sign_in(fresh_address(), "bob", "bob-password-123"))


@pytest.mark.django_db
def test_signing_in_to_ones_own_account_does_not_reset_the_count_of_an_address(alice: Any, bob: Any) -> None:
    guesser = fresh_address()
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(guesser, f"nobody-{n}", "password").status_code == 200
    assert signed_in(sign_in(guesser, "bob", "bob-password-123"))  # the guesser's own account
    assert sign_in(guesser, "nobody-else", "password").status_code == 429


@pytest.mark.django_db
def test_the_admin_login_is_locked_out_too(db: None) -> None:
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser(username="olga", email="", password="olga-password-123")
    address = fresh_address()
    url = reverse("admin:login")
    answers = [
        sign_in(address, "olga", "nope", url=url).status_code for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert answers[-1] == 429
    assert sign_in(address, "olga", "olga-password-123", url=url).status_code == 429
    assert AuditEntry.objects.filter(action=AuditEntry.Action.LOCKED_OUT, actor_name="olga").exists()


@pytest.mark.django_db
def test_behind_a_proxy_the_forwarded_address_is_locked_not_the_proxy(alice: Any, bob: Any) -> None:
    proxy = fresh_address()
    guesser, other = fresh_address(), fresh_address()

    def via_proxy(client_ip: str, username: str, password: str) -> Any:
        return Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=f"6.6.6.6, {client_ip}").post(
            "/accounts/login/", {"username": username, "password": password}
        )

    with override_settings(SCALETEST_TRUSTED_PROXIES=1):
        for n in range(settings.AXES_FAILURE_LIMIT):
            via_proxy(guesser, f"nobody-{n}", "password")
        assert via_proxy(guesser, "bob", "bob-password-123").status_code == 429
        # Everyone else behind the same proxy still signs in.
        assert signed_in(via_proxy(other, "bob", "bob-password-123"))
    assert AuditEntry.objects.filter(action=AuditEntry.Action.LOGIN_FAILED, address=guesser).exists()


def test_the_client_address_ignores_what_the_client_adds_to_x_forwarded_for() -> None:
    factory = RequestFactory()
    request = factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9, 10.0.0.1")
    with override_settings(SCALETEST_TRUSTED_PROXIES=0):
        assert client_address(request) == "10.0.0.2"
    with override_settings(SCALETEST_TRUSTED_PROXIES=1):
        assert client_address(request) == "10.0.0.1"
    with override_settings(SCALETEST_TRUSTED_PROXIES=2):
        assert client_address(request) == "203.0.113.9"
    with override_settings(SCALETEST_TRUSTED_PROXIES=5):  # fewer hops than proxies: the peer
        assert client_address(request) == "10.0.0.2"
    junk = factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="<script>")
    with override_settings(SCALETEST_TRUSTED_PROXIES=1):
        assert client_address(junk) == "10.0.0.2"


# -- token guessing ------------------------------------------------------------------------------------
@pytest.fixture(params=["redis", "files"])
def shared_cache(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """The two production defaults: Redis (REDIS_URL set) and the embedded mode's file cache."""
    if request.param == "redis":
        assert "Redis" in settings.CACHES["default"]["BACKEND"]
        yield request.param
        return
    files = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
            "KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        }
    }
    with override_settings(CACHES=files):
        yield request.param


LIMIT = 4


@pytest.mark.django_db
@override_settings(SCALETEST_TOKEN_FAILURE_LIMIT=LIMIT)
def test_wrong_api_tokens_from_one_address_get_429_with_retry_after(shared_cache: str, alice: Any) -> None:
    _, good = api_token_create(user=alice, name="ci")
    guesser, honest = fresh_address(), fresh_address()

    def call(address: str, token: str) -> Any:
        return Client(REMOTE_ADDR=address).get("/api/v1/teams", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert [call(guesser, f"st_guess{n}").status_code for n in range(LIMIT)] == [401] * LIMIT
    refused = call(guesser, "st_guess-again")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= settings.SCALETEST_TOKEN_FAILURE_WINDOW_SECONDS
    assert "Too many wrong tokens" in refused.json()["detail"]
    # While refused, even the right token from that address learns nothing.
    assert call(guesser, good).status_code == 429
    # Other addresses are not affected; a session (no token) is not throttled.
    assert call(honest, good).status_code == 200
    browser = Client(REMOTE_ADDR=guesser)
    browser.force_login(alice)
    assert browser.get("/api/v1/teams").status_code == 200
    # The window ends: the address may try again.
    throttle.throttle_reset(scope=throttle.API_TOKEN, address=guesser)
    assert call(guesser, good).status_code == 200


@pytest.mark.django_db
@override_settings(SCALETEST_TOKEN_FAILURE_LIMIT=LIMIT)
def test_wrong_share_tokens_from_one_address_get_429_with_retry_after(
    shared_cache: str,
    alice: Any,
    seeded_plan: Any,  # noqa: F811
) -> None:
    run = make_run(seeded_plan)
    _, token = share_create_run(run=run, user=alice)
    guesser, honest = fresh_address(), fresh_address()
    bogus = [f"{n:02d}" + "x" * 41 for n in range(LIMIT + 1)]
    visitor = Client(REMOTE_ADDR=guesser)
    assert [visitor.get(f"/s/{t}/").status_code for t in bogus[:LIMIT]] == [404] * LIMIT
    refused = visitor.get(f"/s/{bogus[-1]}/")
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert visitor.get(f"/s/{token}/").status_code == 429
    assert visitor.get(f"/s/{token}/live.json").status_code == 429
    assert Client(REMOTE_ADDR=honest).get(f"/s/{token}/").status_code == 200


CHILD = """
import django, os, sys
django.setup()
from runs.security import throttle
for _ in range(int(sys.argv[2])):
    throttle.throttle_failure(scope=throttle.SHARE_TOKEN, address=sys.argv[1])
"""


@override_settings(SCALETEST_TOKEN_FAILURE_LIMIT=LIMIT)
def test_failures_counted_in_another_process_count_here(shared_cache: str, tmp_path: Path) -> None:
    """Web processes share the counters: Redis, or the data directory's cache folder."""
    address = fresh_address()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "scaletest_site.settings"}
    if shared_cache == "files":
        env["REDIS_URL"] = ""  # the embedded mode's settings: the file cache in the data dir
        env["SCALETEST_DATA_DIR"] = str(tmp_path / "data")
        files = {
            "default": {
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": str(tmp_path / "data" / "cache"),
                "KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
            }
        }
    else:
        files = settings.CACHES
    with override_settings(CACHES=files):
        assert throttle.throttle_retry_after(scope=throttle.SHARE_TOKEN, address=address) is None
        subprocess.run(
            [sys.executable, "-c", CHILD, address, str(LIMIT)], cwd=BASE_DIR, env=env, check=True, timeout=120
        )
        assert throttle.throttle_retry_after(scope=throttle.SHARE_TOKEN, address=address) is not None
        throttle.throttle_reset(scope=throttle.SHARE_TOKEN, address=address)
