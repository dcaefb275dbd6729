"""Who may call the API: personal tokens (hashed, revocable, expiring) and the session with CSRF."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from runs.models import ApiToken, AuditEntry, Target, TestPlan
from runs.services.api_tokens import api_token_create, api_token_revoke

from .conftest import ApiClient, api_for


def test_a_token_authenticates_its_user_and_records_its_use(alice: Any, team: Any) -> None:
    row, token = api_token_create(user=alice, name="ci")
    assert token.startswith("st_") and len(token) >= 3 + 43  # 32 random bytes
    assert row.prefix == token[:8] and row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(ApiToken.objects.filter(pk=row.pk).values().get())
    response = ApiClient(token).get("/teams")
    assert response.status_code == 200
    assert response.json() == [{"id": team.pk, "name": "Alice's team", "role": "admin"}]
    row.refresh_from_db()
    assert row.last_used_at is not None


def test_missing_garbage_revoked_and_expired_tokens_are_401(alice: Any, plan: TestPlan) -> None:
    revoked_row, revoked = api_token_create(user=alice, name="old")
    api_token_revoke(token=revoked_row)
    expired_row, expired = api_token_create(user=alice, name="short", expires_in_days=1)
    ApiToken.objects.filter(pk=expired_row.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    _, good = api_token_create(user=alice, name="good")
    for token in (None, "garbage", "st_" + "x" * 43, revoked, expired, good[:-1]):
        client = ApiClient(token)
        for response in (
            client.get("/plans"),
            client.post(f"/plans/{plan.pk}/runs"),
            client.delete(f"/plans/{plan.pk}"),
        ):
            assert response.status_code == 401, (token, response.status_code)
            assert response.json() == {"detail": "Unauthorized"}
    assert TestPlan.objects.filter(pk=plan.pk).exists()
    # A user who was deactivated: their tokens stop working.
    alice.is_active = False
    alice.save()
    assert ApiClient(good).get("/teams").status_code == 401


def test_a_wrong_token_is_401_even_with_a_logged_in_session(alice: Any) -> None:
    c = Client()
    c.force_login(alice)
    assert c.get("/api/v1/teams").status_code == 200
    assert c.get("/api/v1/teams", headers={"Authorization": "Bearer st_nope"}).status_code == 401


def test_session_auth_needs_the_csrf_token_for_unsafe_methods_but_a_token_does_not(
    alice: Any, team: Any
) -> None:
    body = {"name": "Via session", "base_url": "http://127.0.0.1:8089"}
    c = Client(enforce_csrf_checks=True)
    c.force_login(alice)
    assert c.get("/api/v1/targets").status_code == 200
    response = c.post("/api/v1/targets", body, content_type="application/json")
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert not Target.objects.exists()
    # With the cookie's token in X-CSRFToken (what the docs page sends), it goes through.
    c.get(reverse("api-tokens"))
    csrf = c.cookies["csrftoken"].value
    response = c.post("/api/v1/targets", body, content_type="application/json", headers={"X-CSRFToken": csrf})
    assert response.status_code == 201, response.content
    # The token client enforces CSRF checks too, and needs none.
    assert api_for(alice).post("/targets", {**body, "name": "Via token"}).status_code == 201
    assert set(Target.objects.values_list("name", flat=True)) == {"Via session", "Via token"}


def test_the_tokens_page_shows_a_new_token_once_and_revokes_it(alice: Any, carol: Any) -> None:
    c = Client(enforce_csrf_checks=True)
    c.force_login(alice)
    page = c.get(reverse("api-tokens"))
    assert page.status_code == 200
    assert reverse("api-tokens").encode() in c.get(reverse("runs-dashboard"), follow=True).content
    csrf = c.cookies["csrftoken"].value
    assert c.post(reverse("api-tokens"), {"name": "ci"}).status_code == 403  # no CSRF token
    response = c.post(
        reverse("api-tokens"),
        {"name": "nightly <b>ci</b>", "expires_in_days": "30", "csrfmiddlewaretoken": csrf},
    )
    html = response.content.decode()
    row = ApiToken.objects.get(user=alice)
    token = html.split('id="new-token-value">', 1)[1].split("<", 1)[0]
    assert token.startswith(row.prefix) and hashlib.sha256(token.encode()).hexdigest() == row.token_hash
    assert "nightly &lt;b&gt;ci&lt;/b&gt;" in html and "no-store" in response["Cache-Control"]
    assert row.expires_at is not None
    assert 29 <= (row.expires_at - timezone.now()).days <= 30
    assert ApiClient(token).get("/teams").status_code == 200
    # Shown once: the list shows the prefix only.
    again = c.get(reverse("api-tokens")).content.decode()
    assert token not in again and f"{row.prefix}…" in again
    # Bad input: clear message, nothing made.
    bad = c.post(reverse("api-tokens"), {"name": "", "expires_in_days": "0", "csrfmiddlewaretoken": csrf})
    assert bad.status_code == 200 and ApiToken.objects.count() == 1
    # Carol cannot revoke alice's token; alice can.
    other = Client()
    other.force_login(carol)
    assert other.post(reverse("api-token-revoke", args=[row.pk])).status_code == 404
    assert ApiClient(token).get("/teams").status_code == 200
    c.post(reverse("api-token-revoke", args=[row.pk]), {"csrfmiddlewaretoken": csrf})
    assert ApiToken.objects.get(pk=row.pk).revoked_at is not None
    assert ApiClient(token).get("/teams").status_code == 401


def test_operators_make_and_revoke_tokens_in_the_admin(alice: Any) -> None:
    from tests.conftest import make_user

    op = make_user("op")
    op.is_staff = op.is_superuser = True
    op.save()
    c = Client()
    c.force_login(op)
    response = c.post(
        reverse("admin:runs_apitoken_add"), {"user": alice.pk, "name": "from admin"}, follow=True
    )
    assert response.status_code == 200
    row = ApiToken.objects.get(user=alice, name="from admin")
    token = (
        response.content.decode().split("shown only now; give it to alice): ", 1)[1].split("<", 1)[0].strip()
    )
    assert ApiClient(token).get("/teams").status_code == 200
    c.post(reverse("admin:runs_apitoken_changelist"), {"action": "revoke", "_selected_action": [row.pk]})
    assert ApiClient(token).get("/teams").status_code == 401


def test_the_admin_change_form_cannot_bring_a_revoked_token_back(alice: Any) -> None:
    """Revocation happens only through the audited action; the form shows it read-only."""
    from tests.conftest import make_user

    op = make_user("op")
    op.is_staff = op.is_superuser = True
    op.save()
    c = Client()
    c.force_login(op)
    row, token = api_token_create(user=alice, name="ci")
    c.post(reverse("admin:runs_apitoken_changelist"), {"action": "revoke", "_selected_action": [row.pk]})
    revoked_at = ApiToken.objects.get(pk=row.pk).revoked_at
    assert revoked_at is not None
    assert (
        AuditEntry.objects.filter(action=AuditEntry.Action.TOKEN_REVOKE, object_id=str(row.pk)).count() == 1
    )
    response = c.post(
        reverse("admin:runs_apitoken_change", args=[row.pk]),
        {
            "name": "ci renamed",
            "revoked_at_0": "",
            "revoked_at_1": "",
            "expires_at_0": "",
            "expires_at_1": "",
        },
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.name == "ci renamed"
    assert row.revoked_at == revoked_at
    assert ApiClient(token).get("/teams").status_code == 401
