"""Which targets a run may load, and how much: the guard rails against using ScaleTest as a weapon.

* ``addresses``     resolve a target's host and refuse loopback, private, link-local (cloud
                    metadata), unspecified and other non-public addresses, whatever the spelling.
* ``allowlist``     the rules of the administrator's allowlist (parsed and matched here; the
                    setting and ``AllowedNetwork`` rows are read by ``runs.selectors.allowlist``)
                    that open such addresses on purpose (local and staging targets).
* ``verification``  proof of ownership for public hosts outside the allowlist: a token file
                    fetched from the checked address before every run.

The caps (users, duration, concurrent runs and a per-target daily budget, per scope) read the
database, so they live in ``runs.services.caps``. ``runs.services.safety`` puts them together
for ``run_create`` and the runner; the runner hands the checked address to the Locust child,
which connects to nothing else (``runs.core.engine.pinning``), so a name that resolves differently
later (DNS rebinding) changes nothing.
"""

from __future__ import annotations


class Refused(Exception):
    """A run may not start (or a target may not be saved); the message is meant for the user."""
