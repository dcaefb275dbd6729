"""Which targets a run may load: the allowlist, the address check at save and at run start,
ownership proof, DNS rebinding. Runs here are refused before anything is queued or spawned."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from runs.core.safety import Refused
from runs.core.safety.verification import proof_path
from runs.models import AllowedNetwork, Run, Target, TargetVerification
from runs.services.runs import RunError, run_claim, run_create
from runs.services.safety import (
    target_address_check,
    target_preflight,
    target_verification_get,
    target_verify,
)

from .conftest import OwnerServer

ODD_LOOPBACK = [
    "http://127.0.0.1:8089",
    "http://2130706433:8089",
    "http://0177.0.0.1:8089",
    "http://0x7f.0.0.1:8089",
    "http://127.1:8089",
    "http://[::ffff:127.0.0.1]:8089",
    "http://localhost:8089",
    "http://[::1]:8089",
]
METADATA = [
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/",
    "http://0.0.0.0:80",
    "http://100.100.100.200/",
    "http://[::ffff:169.254.169.254]/",
    "http://10.0.0.1/",
]


@pytest.mark.parametrize("url", ODD_LOOPBACK + METADATA)
def test_loopback_private_and_metadata_targets_are_refused_without_an_allowlist_entry(
    db: None, no_allowlist: None, url: str
) -> None:
    with pytest.raises(Refused, match="allowlist"):
        target_address_check(base_url=url)


def test_the_production_default_allowlists_only_the_demo_target(db: None, settings: Any) -> None:
    from scaletest_site import settings as module

    default = f"127.0.0.1:{module.SCALETEST_DEMO_PORT}"
    settings.SCALETEST_ALLOWLIST = module.env_list("SCALETEST_ALLOWLIST_UNSET", default)
    assert target_address_check(base_url="http://127.0.0.1:8089").allowlisted
    for url in ("http://127.0.0.1:8090", "http://127.0.0.1:5432", "http://169.254.169.254/"):
        with pytest.raises(Refused):
            target_address_check(base_url=url)


def test_an_admin_allowlist_entry_opens_a_private_range(db: None, no_allowlist: None, fake_dns: dict) -> None:
    fake_dns["staging.invalid"] = ["10.20.0.7"]
    with pytest.raises(Refused):
        target_address_check(base_url="http://staging.invalid:8080")
    network = AllowedNetwork(value=" 10.20.0.0/16 ", note="staging")
    network.full_clean()
    network.save()
    assert network.value == "10.20.0.0/16"
    check = target_address_check(base_url="http://staging.invalid:8080")
    assert check.allowlisted
    assert check.pin == {"host": "staging.invalid", "port": 8080, "address": "10.20.0.7"}


def test_every_resolved_address_is_checked_not_just_the_first(
    db: None, no_allowlist: None, fake_dns: dict, public_loopback: None
) -> None:
    fake_dns["mixed.invalid"] = ["127.0.0.1", "169.254.169.254"]  # 127.0.0.1 counts as public here
    with pytest.raises(Refused, match="169.254.169.254"):
        target_address_check(base_url="http://mixed.invalid/")


def test_a_refused_run_is_never_queued_and_says_why(
    db: None, no_allowlist: None, make_plan: Any, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    plan = make_plan("http://169.254.169.254", "/latest/meta-data/", owner=alice)
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RunError, match="link-local"):
        run_create(plan=plan, user=alice)
    assert Run.objects.count() == 0 and callbacks == []

    client = Client()
    client.force_login(alice)
    response = client.post(f"/plans/{plan.pk}/start/", follow=True)
    assert response.status_code == 200
    assert Run.objects.count() == 0
    assert "link-local" in response.content.decode()


def test_a_target_whose_name_now_resolves_to_metadata_fails_at_start_with_zero_requests(
    db: None,
    no_allowlist: None,
    fake_dns: dict,
    public_loopback: None,
    make_plan: Any,
    owner_server: OwnerServer,
) -> None:
    """DNS rebinding between queueing and starting: the worker's fresh check refuses it."""
    from runs.engine.runner import run_execute

    fake_dns["rebind.invalid"] = ["127.0.0.1"]
    plan = make_plan(f"http://rebind.invalid:{owner_server.port}", "/")
    target = plan.target
    verification = target_verification_get(target=target)
    owner_server.files[proof_path(verification.token)] = (200, verification.token.encode(), {})
    assert target_verify(target=target).verified_at is not None
    run = run_create(plan=plan)
    fake_dns["rebind.invalid"] = ["169.254.169.254"]
    seen = len(owner_server.requests)

    assert run_claim(run_id=run.pk)
    assert run_execute(run_id=run.pk) == Run.Status.FAILED

    run.refresh_from_db()
    assert run.error_message.startswith("Not started, no load was sent:")
    assert "169.254.169.254" in run.error_message
    assert run.total_requests == 0 and len(owner_server.requests) == seen


# -- ownership proof ----------------------------------------------------------------------------------
def test_ownership_is_proven_by_a_token_file_fetched_from_the_checked_address(
    db: None, fake_dns: dict, public_loopback: None, make_plan: Any, owner_server: OwnerServer
) -> None:
    fake_dns["shop.invalid"] = ["127.0.0.1"]  # the name resolves nowhere for real
    plan = make_plan(f"http://shop.invalid:{owner_server.port}", "/")
    with pytest.raises(RunError, match="ownership is not verified"):
        run_create(plan=plan)

    verification = target_verify(target=plan.target)
    assert verification.verified_at is None
    assert "answered 404" in verification.last_error
    assert len(verification.token) == 32  # 128 bits, hex

    path = proof_path(verification.token)
    owner_server.files[path] = (200, f"{verification.token}\n".encode(), {})
    verification = target_verify(target=plan.target)
    assert verification.verified_at is not None and verification.last_error == ""
    assert owner_server.requests[-1] == (path, f"shop.invalid:{owner_server.port}")  # Host kept

    run = run_create(plan=plan)  # fetched again before the run
    assert run.status == Run.Status.QUEUED
    assert [p for p, _ in owner_server.requests].count(path) == 3

    del owner_server.files[path]  # the owner withdraws consent
    with pytest.raises(RunError, match="ownership proof is gone"):
        run_create(plan=plan)
    assert TargetVerification.objects.get(target=plan.target).verified_at is None


def test_a_redirecting_proof_is_not_followed(
    db: None, fake_dns: dict, public_loopback: None, make_plan: Any, owner_server: OwnerServer
) -> None:
    fake_dns["shop.invalid"] = ["127.0.0.1"]
    plan = make_plan(f"http://shop.invalid:{owner_server.port}", "/")
    verification = target_verification_get(target=plan.target)
    path = proof_path(verification.token)
    owner_server.files[path] = (302, b"", {"Location": "http://evil.invalid/proof.txt"})
    verification = target_verify(target=plan.target)
    assert verification.verified_at is None
    assert "redirect" in verification.last_error
    assert [p for p, _ in owner_server.requests] == [path]


def test_a_changed_host_needs_a_new_proof(
    db: None, fake_dns: dict, public_loopback: None, make_plan: Any, owner_server: OwnerServer
) -> None:
    fake_dns["shop.invalid"] = ["127.0.0.1"]
    fake_dns["other.invalid"] = ["127.0.0.1"]
    plan = make_plan(f"http://shop.invalid:{owner_server.port}", "/")
    verification = target_verification_get(target=plan.target)
    owner_server.files[proof_path(verification.token)] = (200, verification.token.encode(), {})
    assert target_verify(target=plan.target).verified_at is not None
    Target.objects.filter(pk=plan.target.pk).update(base_url=f"http://other.invalid:{owner_server.port}")
    plan.target.refresh_from_db()
    with pytest.raises(RunError, match="not verified"):
        run_create(plan=plan)
    assert target_verification_get(target=plan.target).token != verification.token


def test_the_verify_page_shows_the_token_and_checks_it(
    db: None, fake_dns: dict, public_loopback: None, make_plan: Any, alice: Any, owner_server: OwnerServer
) -> None:
    fake_dns["shop.invalid"] = ["127.0.0.1"]
    plan = make_plan(f"http://shop.invalid:{owner_server.port}", "/", owner=alice)
    client = Client()
    client.force_login(alice)
    page = client.get(f"/targets/{plan.target.pk}/verify/")
    assert page.status_code == 200
    token = TargetVerification.objects.get(target=plan.target).token
    assert f"http://shop.invalid:{owner_server.port}{proof_path(token)}" in page.content.decode()

    failed = client.post(f"/targets/{plan.target.pk}/verify/", follow=True)
    assert "answered 404" in failed.content.decode()
    owner_server.files[proof_path(token)] = (200, token.encode(), {})
    ok = client.post(f"/targets/{plan.target.pk}/verify/", follow=True)
    assert ok.status_code == 200 and "Ownership verified" in ok.content.decode()
    assert Client().get(f"/targets/{plan.target.pk}/verify/").status_code == 302  # login required


def test_allowlisted_targets_need_no_proof(db: None, make_plan: Any, target_server: str) -> None:
    plan = make_plan(target_server, "/")
    assert target_preflight(target={"id": plan.target.pk, "base_url": target_server}).allowlisted
    assert run_create(plan=plan).status == Run.Status.QUEUED


# -- at save -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "http://0177.0.0.1:8000",
        "http://2130706433",
        "http://169.254.169.254",
        "http://[::ffff:127.0.0.1]:8000",
        "http://0.0.0.0:8000",
    ],
)
def test_saving_a_target_on_a_forbidden_address_is_refused_beside_the_field(
    db: None, no_allowlist: None, alice: Any, url: str
) -> None:
    client = Client()
    client.force_login(alice)
    data = {"name": "T", "base_url": url, "auth_type": "none", "timeout_seconds": "5"}
    response = client.post("/targets/new/", data)
    assert response.status_code == 200
    # Django's URL validator already rejects some odd spellings; the address check the rest.
    body = response.content.decode()
    assert "allowlist" in body or "Enter an http:// or https:// URL." in body
    assert not Target.objects.exists()


def test_saving_an_allowlisted_or_not_yet_resolvable_target_works(
    db: None, no_allowlist: None, alice: Any
) -> None:
    AllowedNetwork.objects.create(value="127.0.0.1:8089")
    client = Client()
    client.force_login(alice)
    for url in ("http://127.0.0.1:8089", "http://not-yet.invalid"):
        data = {"name": url, "base_url": url, "auth_type": "none", "timeout_seconds": "5"}
        assert client.post("/targets/new/", data).status_code == 302
    # ... but a run of the unresolvable one is refused when it starts.
    with pytest.raises(Refused, match="could not resolve"):
        target_preflight(target={"id": 0, "base_url": "http://not-yet.invalid"})
