"""The channel between the run's parent (Celery task) and its Locust child process.

Pure module: no Django, no Locust, no I/O. Both sides import it; tests exercise it alone.

Transport
---------
* Parent → child, on the child's **stdin**, one JSON object per line (UTF-8, ``\\n``-terminated):

  1. First line: the run snapshot (``runs.services.runs.plan_snapshot``) plus an ``"engine"``
     object with child options: ``{"stop_timeout": <seconds>}``, the time users get to finish
     their current request when the load stops.
  2. Then commands: ``{"cmd": "stop"}`` stops the load gracefully (finish in-flight requests
     up to ``stop_timeout``, flush every measured second, send ``done``, exit 0).

  End of file on stdin means the parent is gone: the child stops as for ``stop``. SIGTERM
  does the same; a second SIGTERM drops in-flight requests at once. The parent also sets
  ``PR_SET_PDEATHSIG`` so the kernel kills the child if the parent dies without closing
  the pipe.

* Child → parent, on the child's **stdout**, one JSON object per line, each with ``"type"``:

  ``hello``   ``{"type": "hello", "locust_version": "2.47.0", "pid": 1234, "start_epoch": 1760000000}``
              Sent once, before any load. ``start_epoch`` is the whole wall-clock second at
              which load starts (the child waits for the boundary), so ``t = epoch -
              start_epoch`` and each ``t`` is a full second of load.
  ``second``  ``{"type": "second", "epoch": 1760000003, "users": 50, "cpu_percent": 41.5,
              "dropped_iterations": 0, "endpoints": [{"method": "GET", "name": "/delay", "requests": 48,
              "failures": 0, "bytes": 96, "histogram": {<runs.histogram to_dict>}}],
              "errors": [{"method": "GET", "name": "/delay", "error_class":
              "ConnectionRefusedError", "message": "[Errno 111] Connection refused",
              "count": 3}]}``
              One per wall-clock second from ``start_epoch`` on, also when nothing
              completed in it. Requests are bucketed by the second in which they
              *completed*. ``users`` is the running user count when the second was closed
              (arrival-rate profiles: the most iterations in flight at once during the
              second); ``dropped_iterations`` (optional, default 0; always 0 for user
              profiles) counts the iterations due in that second that were not started
              because ``max_in_flight`` of them were already running (k6's
              ``dropped_iterations``); halves of a second sent twice add up;
              ``cpu_percent`` is the child's CPU time (user + system) in that second over
              wall time, where 100 means one full core. A second is normally sent once; if
              the clock steps back, a second can arrive again and the parent merges it.
              Distributed runs (master mode, see below) add ``"generators": [{"index": 0,
              "requests": 48, "failures": 0, "cpu_percent": 41.5}, ...]``: each generator's
              share of the second; ``cpu_percent`` is then the busiest generator's, and the
              rest of the message is the exact merge of the generators' own seconds
              (``runs.core.engine.merge``).
  ``master``  ``{"type": "master", "port": 41234}``
              Master mode only, before ``hello``: the Locust master listens on ``port`` (on the
              ``bind_host`` it was given); the parent now sends the generators there. ``hello``
              follows once all of them joined; if they do not join in time, ``fatal``.
  ``done``    ``{"type": "done", "reason": "finished" | "stopped" | "eof" | "signal"}``
              Last line of a clean exit: every measured second has been sent before it.
  ``fatal``   ``{"type": "fatal", "message": "..."}``
              The child could not run the test (bad snapshot, Locust failed); it exits
              non-zero after this line.

  Anything the child logs goes to stderr, never stdout, so the channel stays parseable.

Modes
-----
``engine.mode`` selects what the child is (default ``"local"``: one process makes the load).
``"master"`` (with ``generators``, ``bind_host``, ``join_timeout``) runs a Locust MasterRunner:
it makes no requests, waits for ``generators`` workers, drives them with the profile's shape
and merges their per-second measurements, which they attach to Locust's ``report_to_master``
data, into the ``second`` messages above. ``"worker"`` (with ``master_host``, ``master_port``,
``index``) runs a Locust WorkerRunner: it writes no ``second`` messages (its seconds travel to
the master over ZeroMQ), only ``done`` or ``fatal``; it exits when the master quits, when the
master is silent for ``master_timeout`` seconds, or on ``stop``/EOF/SIGTERM (it then tells the
master it left, which ends the run: see ``runs.engine.runner``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from runs.histogram import Histogram

DONE_REASONS = ("finished", "stopped", "eof", "signal")
MAX_LINE_BYTES = 64 * 1024 * 1024  # one second of a very busy, very varied run; beyond is a bug
MAX_ERROR_MESSAGE = 500  # ErrorGroup.message length


class ProtocolError(ValueError):
    """A line on the channel is not a valid message."""


@dataclass(frozen=True)
class HelloMessage:
    locust_version: str
    pid: int
    start_epoch: int
    type: str = field(default="hello", init=False)


@dataclass(frozen=True)
class EndpointSecond:
    method: str
    name: str
    requests: int
    failures: int
    bytes: int
    histogram: dict[str, Any]

    def decoded(self) -> Histogram:
        """``histogram`` as a :class:`Histogram`, decoded once: the parser keeps the one it
        validated, so the parent never decodes a message's histogram twice. Shared: read it,
        never merge into it (a batch that failed to store is ingested again)."""
        hist = self.__dict__.get("_decoded")
        if hist is None:
            hist = Histogram.from_dict(self.histogram)
            object.__setattr__(self, "_decoded", hist)
        return hist


@dataclass(frozen=True)
class ErrorCount:
    method: str
    name: str
    error_class: str
    message: str
    count: int


@dataclass(frozen=True)
class GeneratorFigures:
    """One generator's share of a second of a distributed run."""

    index: int
    requests: int
    failures: int
    cpu_percent: float | None


@dataclass(frozen=True)
class SecondMessage:
    epoch: int
    users: int
    cpu_percent: float | None
    endpoints: tuple[EndpointSecond, ...] = ()
    errors: tuple[ErrorCount, ...] = ()
    dropped_iterations: int = 0
    generators: tuple[GeneratorFigures, ...] = ()
    type: str = field(default="second", init=False)

    @property
    def requests(self) -> int:
        return sum(e.requests for e in self.endpoints)


@dataclass(frozen=True)
class DoneMessage:
    reason: str
    type: str = field(default="done", init=False)


@dataclass(frozen=True)
class FatalMessage:
    message: str
    type: str = field(default="fatal", init=False)


@dataclass(frozen=True)
class MasterMessage:
    port: int
    type: str = field(default="master", init=False)


MAX_GENERATOR_INDEX = 1000

Message = HelloMessage | SecondMessage | DoneMessage | FatalMessage | MasterMessage


# -- encoding ----------------------------------------------------------------------------------
def encode(message: Message) -> bytes:
    """One line (with its newline) for the channel."""
    return (json.dumps(asdict(message), separators=(",", ":")) + "\n").encode()


def encode_stop() -> bytes:
    return b'{"cmd":"stop"}\n'


# -- parsing -----------------------------------------------------------------------------------
def parse_line(line: str | bytes) -> Message:
    """Parse and validate one line from the child's stdout. Raises :class:`ProtocolError`."""
    if isinstance(line, bytes):
        if len(line) > MAX_LINE_BYTES:
            raise ProtocolError("line too long")
        try:
            line = line.decode()
        except UnicodeDecodeError as exc:
            raise ProtocolError("line is not UTF-8") from exc
    line = line.strip()
    if not line:
        raise ProtocolError("empty line")
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"not JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise ProtocolError("a message must be a JSON object")
    kind = data.get("type")
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise ProtocolError(f"unknown message type {kind!r}")
    return parser(data)


def parse_hello(data: Mapping[str, Any]) -> HelloMessage:
    return HelloMessage(
        locust_version=_str(data, "locust_version", max_len=50),
        pid=_int(data, "pid", minimum=1),
        start_epoch=_int(data, "start_epoch", minimum=0),
    )


def parse_second(data: Mapping[str, Any]) -> SecondMessage:
    cpu = data.get("cpu_percent")
    if cpu is not None and (not _is_number(cpu) or cpu < 0):
        raise ProtocolError("cpu_percent must be a non-negative number or null")
    endpoints = _list(data, "endpoints")
    errors = _list(data, "errors")
    return SecondMessage(
        epoch=_int(data, "epoch", minimum=0),
        users=_int(data, "users", minimum=0),
        cpu_percent=float(cpu) if cpu is not None else None,
        endpoints=tuple(_parse_endpoint(e) for e in endpoints),
        errors=tuple(_parse_error(e) for e in errors),
        # Optional: closed-model children and older ones do not send it.
        dropped_iterations=_int(data, "dropped_iterations", minimum=0) if "dropped_iterations" in data else 0,
        generators=tuple(_parse_generator(g) for g in _list(data, "generators")),
    )


def _parse_generator(data: Any) -> GeneratorFigures:
    if not isinstance(data, dict):
        raise ProtocolError("a generator must be an object")
    index = _int(data, "index", minimum=0)
    if index > MAX_GENERATOR_INDEX:
        raise ProtocolError(f"generator index must be <= {MAX_GENERATOR_INDEX}")
    requests = _int(data, "requests", minimum=0)
    failures = _int(data, "failures", minimum=0)
    if failures > requests:
        raise ProtocolError("generator failures exceed requests")
    cpu = data.get("cpu_percent")
    if cpu is not None and (not _is_number(cpu) or cpu < 0):
        raise ProtocolError("generator cpu_percent must be a non-negative number or null")
    return GeneratorFigures(
        index=index, requests=requests, failures=failures, cpu_percent=float(cpu) if cpu is not None else None
    )


def parse_master(data: Mapping[str, Any]) -> MasterMessage:
    port = _int(data, "port", minimum=1)
    if port > 65535:
        raise ProtocolError("port must be <= 65535")
    return MasterMessage(port=port)


def parse_done(data: Mapping[str, Any]) -> DoneMessage:
    reason = _str(data, "reason", max_len=20)
    if reason not in DONE_REASONS:
        raise ProtocolError(f"unknown done reason {reason!r}")
    return DoneMessage(reason=reason)


def parse_fatal(data: Mapping[str, Any]) -> FatalMessage:
    return FatalMessage(message=_str(data, "message", max_len=10_000, allow_empty=True))


def parse_command(line: str | bytes) -> str:
    """Parse a parent → child command line; returns the command name ("stop")."""
    try:
        data = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError("command is not JSON") from exc
    if not isinstance(data, dict) or data.get("cmd") != "stop":
        raise ProtocolError(f"unknown command {data!r}")
    return "stop"


def _parse_endpoint(data: Any) -> EndpointSecond:
    if not isinstance(data, dict):
        raise ProtocolError("an endpoint must be an object")
    requests = _int(data, "requests", minimum=0)
    failures = _int(data, "failures", minimum=0)
    if failures > requests:
        raise ProtocolError("failures exceed requests")
    histogram = data.get("histogram")
    if not isinstance(histogram, dict):
        raise ProtocolError("histogram must be an object")
    try:
        decoded = Histogram.from_dict(histogram)
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"bad histogram: {exc}") from exc
    if decoded.total != requests:
        raise ProtocolError(f"histogram holds {decoded.total} samples for {requests} requests")
    endpoint = EndpointSecond(
        method=_str(data, "method", max_len=10),
        name=_str(data, "name", max_len=1000),
        requests=requests,
        failures=failures,
        bytes=_int(data, "bytes", minimum=0),
        histogram=histogram,
    )
    object.__setattr__(endpoint, "_decoded", decoded)  # see EndpointSecond.decoded
    return endpoint


def _parse_error(data: Any) -> ErrorCount:
    if not isinstance(data, dict):
        raise ProtocolError("an error must be an object")
    return ErrorCount(
        method=_str(data, "method", max_len=10),
        name=_str(data, "name", max_len=1000),
        error_class=_str(data, "error_class", max_len=200),
        message=_str(data, "message", max_len=MAX_ERROR_MESSAGE, allow_empty=True),
        count=_int(data, "count", minimum=1),
    )


_PARSERS = {
    "hello": parse_hello,
    "second": parse_second,
    "done": parse_done,
    "fatal": parse_fatal,
    "master": parse_master,
}


# -- field helpers -----------------------------------------------------------------------------
def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def _int(data: Mapping[str, Any], key: str, *, minimum: int) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolError(f"{key} must be an integer")
    if value < minimum:
        raise ProtocolError(f"{key} must be >= {minimum}")
    return value


def _str(data: Mapping[str, Any], key: str, *, max_len: int, allow_empty: bool = False) -> str:
    value = data.get(key)
    if not isinstance(value, str) or (not value and not allow_empty):
        raise ProtocolError(f"{key} must be a non-empty string")
    if len(value) > max_len:
        raise ProtocolError(f"{key} is longer than {max_len} characters")
    return value


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ProtocolError(f"{key} must be a list")
    return value
