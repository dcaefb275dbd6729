"""The user classes of a locustfile scenario."""

from __future__ import annotations

import linecache
import sys
import types

from locust import LoadTestShape, User

LOCUSTFILE_NAME = "<locustfile>"


def load_locustfile(source: str, *, host: str) -> list[type[User]]:
    """The User classes of a locustfile, with their host forced to the target's.

    The file runs in a fresh module in this (pinned) child: name resolution only answers the
    target's checked address (``runs.core.engine.pinning``), so the ``client`` of HttpUser and
    FastHttpUser, and any other library that resolves names, reaches the target only. Code in
    the file can still do anything the worker's OS user can (raw sockets to IP literals,
    files): that is why locustfile scenarios need an administrator's permission
    (``runs.services.scenarios.locustfile_allowed``).
    """
    try:
        code = compile(source, LOCUSTFILE_NAME, "exec")
    except SyntaxError as exc:
        raise ValueError(f"the locustfile has a syntax error on line {exc.lineno}: {exc.msg}") from None
    # Tracebacks of the file's code show its lines.
    linecache.cache[LOCUSTFILE_NAME] = (len(source), None, source.splitlines(True), LOCUSTFILE_NAME)
    module = types.ModuleType("scaletest_locustfile")
    module.__file__ = LOCUSTFILE_NAME
    sys.modules[module.__name__] = module
    try:
        exec(code, module.__dict__)  # noqa: S102 - an administrator allowed this file (see above)
    except Exception as exc:  # noqa: BLE001 - the run fails with the file's own error
        raise ValueError(f"the locustfile failed while loading: {type(exc).__name__}: {exc}") from None
    items = [v for v in vars(module).values() if isinstance(v, type)]
    shapes = [v.__name__ for v in items if issubclass(v, LoadTestShape) and v is not LoadTestShape]
    if shapes:
        raise ValueError(
            f"the locustfile defines a LoadTestShape ({', '.join(shapes)}); the load comes from the plan's "
            "profile: remove the shape class"
        )
    users = [v for v in items if issubclass(v, User) and not v.abstract]
    if not users:
        raise ValueError(
            "the locustfile defines no User class (a subclass of HttpUser or FastHttpUser with tasks)"
        )
    for cls in users:
        if not cls.tasks:
            raise ValueError(f"the locustfile's user class {cls.__name__} has no tasks")
        cls.host = host
    return users
