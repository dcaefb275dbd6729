"""Guard rails put together: may this target be saved, may this run start, and at which address.

* ``target_save_check``   when a target is saved: its host resolves, and each address is
  public or allowlisted (ownership is proven after saving, it needs the saved target).
* ``target_preflight``    before a run is queued (``run_create``) and again in the worker just
  before the Locust child starts (``runs.engine.runner``): the same address check on a fresh
  lookup, then, for a host outside the allowlist, the ownership proof fetched from the checked
  address. Returns the address the child must connect to (``TargetCheck.pin``).
* ``target_verify``       the "Verify" button: fetch the proof now and record the outcome.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from runs.core.safety import Refused
from runs.core.safety.addresses import (
    Endpoint,
    Resolver,
    Unresolvable,
    endpoint_of,
    forbidden_reason,
    resolve,
)
from runs.core.safety.allowlist import AllowRule
from runs.core.safety.verification import fetch_proof, new_token, proof_url
from runs.models import HTTP_URL, Target, TargetVerification
from runs.selectors.allowlist import allowlist_rules
from runs.services.audit import Action, audit_record

__all__ = ["Refused", "TargetCheck", "target_address_check", "target_preflight", "target_save_check"]


@dataclass(frozen=True)
class TargetCheck:
    endpoint: Endpoint
    addresses: tuple[str, ...]  # everything the host resolved to; all of it was checked
    allowlisted: bool  # every address is covered by the allowlist: no ownership proof needed

    @property
    def address(self) -> str:
        """The one address the load goes to."""
        return self.addresses[0]

    @property
    def pin(self) -> dict[str, Any]:
        """Engine option for the child (``runs.core.engine.pinning``)."""
        return {"host": self.endpoint.host, "port": self.endpoint.port, "address": self.address}


def target_address_check(
    *, base_url: str, rules: list[AllowRule] | None = None, resolver: Resolver | None = None
) -> TargetCheck:
    """Resolve the target's host and check every address; raise :class:`Refused` saying why."""
    endpoint = endpoint_of(base_url)
    addresses = resolve(endpoint.host, endpoint.port, resolver=resolver)
    rules = allowlist_rules() if rules is None else rules
    allowlisted = True
    for address in addresses:
        ip = ipaddress.ip_address(address)
        if any(rule.allows(host=endpoint.host, port=endpoint.port, address=ip) for rule in rules):
            continue
        allowlisted = False
        reason = forbidden_reason(ip)
        if reason is not None:
            shown = (
                f"{endpoint.host} is"
                if endpoint.host == address
                else f"{endpoint.host} resolves to {address},"
            )
            entry = f"[{address}]:{endpoint.port}" if ":" in address else f"{address}:{endpoint.port}"
            raise Refused(
                f"{shown} {reason}, so ScaleTest does not send load there. To test it, ask an "
                f"administrator to add {entry} to the allowlist: in the Django admin under "
                "Load tests › Allowed networks, or in the SCALETEST_ALLOWLIST setting."
            )
    return TargetCheck(endpoint=endpoint, addresses=addresses, allowlisted=allowlisted)


def target_save_check(*, base_url: str) -> None:
    """Raise :class:`Refused` when a target with this base URL may not be tested.

    A name that does not resolve yet is accepted (it may exist only where workers run, or not
    yet); every run start resolves and checks it again anyway. A malformed URL is left to the
    model's URL validator, whose message is clearer.
    """
    try:
        HTTP_URL(base_url)
    except ValidationError:
        return
    try:
        target_address_check(base_url=base_url)
    except Unresolvable:
        return


def target_verification_get(*, target: Target) -> TargetVerification:
    """The target's verification row for its current host, with a fresh token when the host changed."""
    host = endpoint_of(target.base_url).netloc
    verification = TargetVerification.objects.filter(target=target).first()
    if verification is None:
        return TargetVerification.objects.create(target=target, token=new_token(), host=host)
    if verification.host != host:
        verification.token, verification.host = new_token(), host
        verification.verified_at, verification.last_error = None, ""
        verification.save()
    return verification


def target_proof_url(*, target: Target, verification: TargetVerification) -> str:
    return proof_url(endpoint_of(target.base_url), verification.token)


def _check_proof(
    *, check: TargetCheck, verification: TargetVerification, target: dict[str, Any]
) -> str | None:
    error = fetch_proof(
        endpoint=check.endpoint,
        address=check.address,
        token=verification.token,
        verify_tls=bool(target.get("verify_tls", True)),
        timeout=float(settings.SCALETEST_VERIFY_TIMEOUT_SECONDS),
    )
    now = timezone.now()
    fields: dict[str, Any] = {"last_checked_at": now, "last_error": error or ""}
    if error is None and verification.verified_at is None:
        fields["verified_at"] = now
    if error is not None:
        fields["verified_at"] = None
    TargetVerification.objects.filter(pk=verification.pk).update(**fields)
    for name, value in fields.items():
        setattr(verification, name, value)
    return error


def target_verify(*, target: Target) -> TargetVerification:
    """Fetch the ownership proof now (the Verify button); the outcome is on the returned row."""
    verification = _verify_now(target=target)
    details = {"host": verification.host, "verified": verification.verified_at is not None}
    audit_record(
        action=Action.TARGET_VERIFY, obj=target, details={**details, "error": verification.last_error}
    )
    return verification


def _verify_now(*, target: Target) -> TargetVerification:
    verification = target_verification_get(target=target)
    try:
        check = target_address_check(base_url=target.base_url)
    except Refused as exc:
        TargetVerification.objects.filter(pk=verification.pk).update(
            last_checked_at=timezone.now(), last_error=str(exc), verified_at=None
        )
        verification.refresh_from_db()
        return verification
    _check_proof(check=check, verification=verification, target={"verify_tls": target.verify_tls})
    return verification


def target_preflight(*, target: dict[str, Any]) -> TargetCheck:
    """Check a run's target (its snapshot) right now: addresses, then ownership outside the allowlist."""
    check = target_address_check(base_url=str(target.get("base_url") or ""))
    if check.allowlisted:
        return check
    verification = TargetVerification.objects.filter(
        target_id=target.get("id", 0),
        host=check.endpoint.netloc,  # 0: no such target
    ).first()
    if verification is None or verification.verified_at is None:
        raise Refused(
            f"{check.endpoint.host} is not on the allowlist and its ownership is not verified. "
            "Open the target and follow “Verify ownership” first."
        )
    error = _check_proof(check=check, verification=verification, target=target)
    if error is not None:
        raise Refused(f"The ownership proof is gone or unreadable, so the run was not started. {error}")
    return check
