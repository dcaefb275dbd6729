"""Downloads of a run: the per-second series as CSV, the whole run as JSON, a self-contained
HTML report.

Pure builders (no ORM, no request, no user): ``runs.selectors.export`` loads the plain data
they take, the views in ``runs.views.exports`` stream what they return. A share link can reuse
them as they are. Every builder that writes the run's snapshot redacts it first
(``redact.snapshot_redacted``).
"""

from __future__ import annotations

from django.utils.text import slugify


def export_filename(*, run_id: int, plan_name: str, ext: str) -> str:
    """``scaletest-run-<id>-<plan-slug>.<ext>`` (ASCII only; ``run`` when the name has no
    letters or digits)."""
    slug = slugify(plan_name)[:60].strip("-") or "run"
    return f"scaletest-run-{run_id}-{slug}.{ext}"
