"""The entry point: read the start line, run the mode it asks for, end with ``done`` or ``fatal``."""

from __future__ import annotations

import logging
import os
import signal
import sys
import traceback

import gevent
from gevent.fileobject import FileObject

from runs.core import profiles
from runs.core.engine import pinning, protocol
from runs.core.engine.child.distributed import GeneratorLost, GeneratorsMissing, run_master, run_worker
from runs.core.engine.child.local import run_closed, run_open
from runs.core.engine.child.process import Child
from runs.core.engine.child.search import run_search
from runs.core.engine.child.users import build_user_classes


def run(child: Child, start: protocol.StartLine) -> str:
    """Run the load the start line describes; returns the ``done`` reason."""
    options = start.engine
    if not isinstance(options, protocol.WorkerOptions):
        # Connect only to the address the parent checked. A worker installs it once it is
        # connected to its master (see run_worker).
        pinning.install(options.pin.to_dict() if options.pin is not None else None)
    # Normalise as the form did (numbers, defaults); the parent enforced the real limits.
    params = profiles.validate_profile(
        start.profile.kind, start.profile.params, max_users=10**9, max_seconds=10**9
    )
    plan = profiles.build_plan(start.profile.kind, params)
    user_classes = build_user_classes(start, open_model=plan.is_open)
    locustfile = start.scenario.kind == "locustfile"
    if isinstance(options, protocol.MasterOptions | protocol.WorkerOptions) and plan.is_open:
        raise ValueError("arrival-rate profiles run on one generator only")
    if profiles.is_search(start.profile.kind):
        if not isinstance(options, protocol.LocalOptions):
            raise ValueError("a capacity search runs on one generator only")
        return run_search(
            child, start.profile.kind, params, plan, user_classes, options, locustfile=locustfile
        )
    if isinstance(options, protocol.MasterOptions):
        return run_master(child, plan, user_classes, options, locustfile=locustfile)
    if isinstance(options, protocol.WorkerOptions):
        return run_worker(child, user_classes, options, locustfile=locustfile)
    if plan.is_open:
        return run_open(child, plan, user_classes[0], options)
    return run_closed(child, plan, user_classes, options, locustfile=locustfile)


def main() -> int:
    # Keep fd 1 for the channel only: anything else that prints (libraries, warnings) goes
    # to stderr, which the parent keeps for error messages.
    out_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    logging.basicConfig(
        level=os.environ.get("SCALETEST_CHILD_LOG_LEVEL", "WARNING"),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    child = Child(out_fd)
    stdin = FileObject(0, "rb")
    try:
        first = stdin.readline()
        if not first:
            raise ValueError("no snapshot on stdin")
        try:
            start = protocol.parse_start(first)
        except protocol.ProtocolError as exc:
            raise BadStartLine(f"the run's snapshot is invalid: {exc}") from exc
        gevent.signal_handler(signal.SIGTERM, child.on_sigterm)
        gevent.spawn(child.read_commands, stdin)
        reason = run(child, start)
    except Exception as exc:  # noqa: BLE001 - the parent must get a message, whatever failed
        traceback.print_exc(file=sys.stderr)
        text = (
            str(exc)
            if isinstance(exc, GeneratorsMissing | GeneratorLost | BadStartLine)
            else f"{type(exc).__name__}: {exc}"
        )
        child.send(protocol.encode(protocol.FatalMessage(text[:10_000])))
        _exit(2)
    child.send(protocol.encode(protocol.DoneMessage(reason)))
    _exit(0)
    return 0


class BadStartLine(ValueError):
    """The start line is missing a field or has a bad one."""


def _exit(code: int) -> None:
    sys.stderr.flush()
    # Skip interpreter teardown: gevent's hub and Locust's greenlets can hang it, and every
    # result has already been written.
    os._exit(code)
