"""``python3 -m runs.ci --server … --plan …``: run a plan on a ScaleTest server from CI with the
standard library only (see ``runs.core.ci.remote``)."""

from __future__ import annotations

import sys

from runs.core.ci.remote import main

sys.exit(main())
