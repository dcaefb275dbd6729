"""``python -m runs.core.engine.child``: the Locust child (see the package's docstring)."""

from runs.core.engine.child.main import main

main()
