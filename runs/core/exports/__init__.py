"""Downloads of a run: the per-second series as CSV, the whole run as JSON (the self-contained
HTML report renders templates, so it lives in ``runs.views.report``).

Pure builders (no ORM, no request, no user): ``runs.selectors.export`` loads the plain data
they take, the views in ``runs.views.exports`` stream what they return. A share link can reuse
them as they are. Every builder that writes the run's snapshot redacts it first
(``redact.snapshot_redacted``).
"""
