"""Reads: querysets and plain rows for the pages, the API and the exports; no writes.

One module per feature: ``runs`` (run lists, live series, endpoint and error rows), ``catalog``
(targets, scenarios, profiles, plans), ``analysis`` (capacity, baselines, comparisons),
``export`` (what the downloads read), ``audit`` (a team's audit trail).
"""
