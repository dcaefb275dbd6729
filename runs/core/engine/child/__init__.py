"""The Locust child process: ``python -m runs.core.engine.child``.

The only code that imports Locust (and so gevent's monkey-patching); it never imports Django.
It reads the start line (``runs.core.engine.protocol.parse_start``) from stdin, runs the load
and streams per-second results as JSON lines on stdout; ``runs.core.engine.protocol``
documents the channel. One module per concern:

* ``main``        the entry point: read the start line, pick the mode, end with ``done``/``fatal``;
* ``process``     the process itself: the channel out, stopping (commands, EOF, SIGTERM), the
                  per-second clock;
* ``users``       the Locust user class built from the scenario's steps (``expect``: how a
                  response is judged; ``locustfile``: the user classes of a locustfile);
* ``recorder``    per-second, per-endpoint measurements with exact histograms, and CPU;
* ``shapes``      the load over time: ``ProfileShape`` (users, on Locust's runner) and
                  ``OpenLoad`` (arrival rate, which Locust lacks);
* ``control``     live control: ``set`` commands give a constant run a new level (the shape's
                  plan, or ``ControlledOpenLoad``'s arrival schedule), acknowledged with a time;
* ``local``       the one-process modes (closed and open model);
* ``distributed`` Locust's master/worker mode over ZeroMQ: the master drives the shape and
                  merges the workers' exact seconds (``runs.core.engine.merge``), which each
                  worker attaches to Locust's ``report_to_master`` data.
"""

from __future__ import annotations

# Locust monkey-patches the standard library on import; that must happen before anything
# else imports socket, ssl or threading, so it happens when this package is imported, before
# any of its modules.
import locust  # noqa: F401
