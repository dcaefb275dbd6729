"""Read-only share links to a run page or a comparison.

The token (``secrets.token_urlsafe(32)``: 256 bits) is shown once, in the URL made at creation;
only its SHA-256 is stored, so a database dump holds no working link (Grafana kept snapshot keys
in clear: CVE-2021-39226). A link only *reads* the pages it names; making and revoking links
needs a team admin's session (CVE-2024-1313: a view key that could delete).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db.models import F
from django.utils import timezone

from runs.models import Run, ShareLink, Team
from runs.services.audit import Action, audit_record

TOKEN_BYTES = 32
MAX_EXPIRY_DAYS = 365
MAX_LABEL_LENGTH = 200
# token_urlsafe(32) is 43 characters; anything far off that is not ours (no hashing of junk).
TOKEN_LENGTHS = range(32, 65)


class ShareError(ValueError):
    """A link cannot be made; the message is meant for the user."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _expiry(days: int | None, now: datetime) -> datetime | None:
    if days is None:
        return None
    if not 1 <= days <= MAX_EXPIRY_DAYS:
        raise ShareError(f"A link expires after 1 to {MAX_EXPIRY_DAYS} days (or never: leave it empty).")
    return now + timedelta(days=days)


def _label(label: str) -> str:
    label = " ".join((label or "").split())
    if len(label) > MAX_LABEL_LENGTH:
        raise ShareError(f"A label has at most {MAX_LABEL_LENGTH} characters.")
    return label


def share_create_run(
    *, run: Run, user: Any, label: str = "", expires_in_days: int | None = None
) -> tuple[ShareLink, str]:
    """A link to ``run``'s page; returns the link and its token (never stored)."""
    now = timezone.now()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    share = ShareLink.objects.create(
        team_id=run.team_id,
        kind=ShareLink.Kind.RUN,
        run=run,
        label=_label(label),
        token_hash=token_hash(token),
        created_by=user,
        expires_at=_expiry(expires_in_days, now),
    )
    audit_record(action=Action.SHARE_CREATE, obj=share, details={"kind": share.kind, "run": run.pk})
    return share, token


def share_create_compare(
    *,
    team: Team,
    runs: Sequence[Run],
    baseline_id: int | None,
    user: Any,
    label: str = "",
    expires_in_days: int | None = None,
) -> tuple[ShareLink, str]:
    """A link to the comparison of ``runs`` (in this order, all of ``team``)."""
    ids = list(dict.fromkeys(r.pk for r in runs))
    if len(ids) < 2:
        raise ShareError("A comparison link needs at least 2 runs.")
    if any(r.team_id != team.pk for r in runs):
        raise ShareError("All runs of a comparison link must belong to the same team.")
    if baseline_id is not None and baseline_id not in ids:
        raise ShareError("The reference run must be one of the compared runs.")
    now = timezone.now()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    share = ShareLink.objects.create(
        team=team,
        kind=ShareLink.Kind.COMPARE,
        run_ids=ids,
        baseline_id=baseline_id,
        label=_label(label),
        token_hash=token_hash(token),
        created_by=user,
        expires_at=_expiry(expires_in_days, now),
    )
    audit_record(action=Action.SHARE_CREATE, obj=share, details={"kind": share.kind, "runs": ids})
    return share, token


def share_resolve(*, token: str) -> ShareLink | None:
    """The live link of ``token``; None for unknown, revoked and expired tokens alike."""
    if not isinstance(token, str) or len(token) not in TOKEN_LENGTHS:
        return None
    share = ShareLink.objects.select_related("run").filter(token_hash=token_hash(token)).first()
    if share is None or not share.is_live_at(timezone.now()):
        return None
    if share.kind == ShareLink.Kind.RUN and (share.run is None or share.run.team_id != share.team_id):
        return None
    return share


def share_record_view(*, share: ShareLink) -> None:
    ShareLink.objects.filter(pk=share.pk).update(
        view_count=F("view_count") + 1, last_viewed_at=timezone.now()
    )


def share_revoke(*, share: ShareLink) -> ShareLink:
    """Revoke ``share`` (at once, for every holder of the URL); revoking twice keeps the first time."""
    if ShareLink.objects.filter(pk=share.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()):
        audit_record(action=Action.SHARE_REVOKE, obj=share, details={"kind": share.kind})
    share.refresh_from_db()
    return share
