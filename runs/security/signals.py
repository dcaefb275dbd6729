"""Failed sign-ins and lockouts into the audit trail.

``user_login_failed`` is Django's (sent for every failed ``authenticate``, the login page's and
the admin's, including attempts django-axes refuses during a lockout); ``user_locked_out`` is
django-axes', sent when an attempt crosses AXES_FAILURE_LIMIT.
"""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver

from runs.services.audit import Action, Via, audit_record


def _attempted(credentials: dict[str, Any] | None) -> str:
    field = get_user_model().USERNAME_FIELD
    return str((credentials or {}).get(field) or (credentials or {}).get("username") or "")[:150]


@receiver(user_login_failed, dispatch_uid="runs-audit-login-failed")
def record_login_failed(
    sender: Any, credentials: dict[str, Any] | None = None, request: Any = None, **_: Any
) -> None:
    audit_record(
        action=Action.LOGIN_FAILED,
        actor_name=_attempted(credentials),
        request=request,
        via=None if request is not None else Via.SYSTEM,
        details={
            "username": _attempted(credentials),
            "locked_out": bool(getattr(request, "axes_locked_out", False)),
        },
    )


@receiver(user_locked_out, dispatch_uid="runs-audit-locked-out")
def record_locked_out(sender: Any, request: Any = None, username: str | None = None, **_: Any) -> None:
    audit_record(action=Action.LOCKED_OUT, actor_name=(username or "")[:150], request=request)
