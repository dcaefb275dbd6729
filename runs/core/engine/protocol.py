"""The channel between the run's parent (Celery task) and its Locust child process.

Pure module: no Django, no Locust, no I/O. Both sides import it; tests exercise it alone.

Transport
---------
* Parent → child, on the child's **stdin**, one JSON object per line (UTF-8, ``\\n``-terminated):

  1. First line, the *start line*: the run snapshot (``runs.services.runs.plan_snapshot``)
     plus an ``"engine"`` object with child options (:class:`LocalOptions`,
     :class:`MasterOptions` or :class:`WorkerOptions`; ``stop_timeout`` is the time users get
     to finish their current request when the load stops). The parent writes it with
     :func:`encode_start`; the child reads it with :func:`parse_start` into a typed
     :class:`StartLine` (the parts of the snapshot the child uses), so a bad or missing field
     is refused once, by name, before any load.
  2. Then commands: ``{"cmd": "stop"}`` stops the load gracefully (finish in-flight requests
     up to ``stop_timeout``, flush every measured second, send ``done``, exit 0).
     ``{"cmd": "set", "id": 7, "users": 20}`` (closed model) or ``{"cmd": "set", "id": 7,
     "rate": 12.5}`` (open model) is live control (``runs.core.control``): from now until the
     planned end, hold 20 users, or start 12.5 iterations per second. ``id`` names the parent's
     record of the change; the child answers every ``set`` with a ``control`` message. Written
     with :func:`encode_set`, read with :func:`parse_command` (:class:`SetCommand`).

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
              "failures": 0, "bytes": 96, "histogram": {<runs.core.histogram to_dict>}}],
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
  ``search``  ``{"type": "search", "decision": {"index": 0, "load": 4, "start_t": 1, "end_t": 5,
              "requests": 812, "failures": 0, "rps": 162.4, "goodput": 162.4, "error_rate": 0.0,
              "p50_ms": 20.1, "p95_ms": 21.3, "p99_ms": 22.0, "dropped": 0, "checks": [{"label":
              "p95 < 50 ms", "metric": "p95", "observed": 21.3, "limit": 50.0, "low": 21.1, "high":
              21.6, "passed": true}], "passed": true, "decided_by": "interval", "reason": "met p95 <
              50 ms: 21.3 ms", "phase": "grow", "next_load": 8}, "outcome": null}``
              Capacity-search profiles only (``runs.core.capacity_search``): one per decided
              step, when the child decides it (its ``second`` messages may follow). ``load`` is
              users or iterations/s; ``start_t``..``end_t`` are the judged seconds (t from
              ``start_epoch``); ``next_load`` is null on the last step. ``outcome`` is null
              until the search ends, then ``{"status": "found" | "below_start" |
              "above_ceiling" | "errors" | "budget" | "stopped", "low": 16, "high": 18,
              "message": "..."}`` (``low``: highest passing load, ``high``: lowest failing).
              The load stops when the search ends (``done`` with ``finished``). A search stopped
              between two steps (a cancel before its next step judged a second) ends with
              ``"decision": null`` and the outcome.
  ``control`` ``{"type": "control", "id": 7, "epoch": 1760000012.345, "applied": true, "message": ""}``
              The answer to a ``set`` command: ``epoch`` (wall clock, with fractions) is when the
              load shape took the new level, which is where the level starts on the run's
              timeline; ``applied`` false (with ``message`` saying why) when the child could not
              take it (a distributed run's master, a profile that is not constant).
  ``done``    ``{"type": "done", "reason": "finished" | "stopped" | "eof" | "signal"}``
              Last line of a clean exit: every measured second has been sent before it.
  ``fatal``   ``{"type": "fatal", "message": "..."}``
              The child could not run the test (bad snapshot, Locust failed); it exits
              non-zero after this line.

  The child writes these with :func:`encode` (``second``: :func:`encode_second`, from the
  :class:`SecondPayload` wire form); the parent reads them with :func:`parse_line`.
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
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, NotRequired, TypedDict

from runs.core.histogram import Histogram

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


@dataclass(frozen=True)
class ControlMessage:
    """The child's answer to a ``set`` command."""

    id: int
    epoch: float
    applied: bool
    message: str = ""
    type: str = field(default="control", init=False)


MAX_GENERATOR_INDEX = 1000


@dataclass(frozen=True)
class SearchMessage:
    """A capacity search's decided step (``decision``) and, on its last one, how it ended."""

    decision: dict[str, Any] | None
    outcome: dict[str, Any] | None = None
    type: str = field(default="search", init=False)


SEARCH_STATUSES = ("found", "below_start", "above_ceiling", "errors", "budget", "stopped")
MAX_SEARCH_TEXT = 2000

Message = (
    HelloMessage | SecondMessage | DoneMessage | FatalMessage | MasterMessage | SearchMessage | ControlMessage
)


# -- child → parent: the wire form of a second ---------------------------------------------------
class EndpointPayload(TypedDict):
    method: str
    name: str
    requests: int
    failures: int
    bytes: int
    histogram: dict[str, Any]


class ErrorPayload(TypedDict):
    method: str
    name: str
    error_class: str
    message: str
    count: int


class GeneratorPayload(TypedDict):
    index: int
    requests: int
    failures: int
    cpu_percent: float | None


class SecondPayload(TypedDict):
    """A ``second`` message as the child builds it (``Recorder.pop_second``, the master's
    merge) and as a worker sends it to its master; :func:`encode_second` writes it and
    :func:`parse_second` reads it back as a :class:`SecondMessage`."""

    type: str
    epoch: int
    users: int
    cpu_percent: float | None
    dropped_iterations: int
    endpoints: list[EndpointPayload]
    errors: list[ErrorPayload]
    generators: NotRequired[list[GeneratorPayload]]


# -- worker → master (distributed runs, inside Locust's report_to_master data) --------------------
REPORT_KEY = "scaletest"


class WorkerReport(TypedDict):
    """What a worker attaches to each of Locust's reports to its master, under
    :data:`REPORT_KEY`: its generator ``index``, its watermark ``through`` (every second before
    it has been sent; null until its load starts) and its ``seconds`` since the last report."""

    index: int
    through: int | None
    seconds: list[SecondPayload]


def parse_worker_report(data: Mapping[str, Any]) -> WorkerReport | None:
    """The worker's part of Locust's report data (None without one), checked for shape; the
    seconds themselves are read by ``runs.core.engine.merge``. Raises :class:`ProtocolError`."""
    part = data.get(REPORT_KEY)
    if not isinstance(part, dict):
        return None
    index = _int(part, "index", minimum=0, where="report")
    if index > MAX_GENERATOR_INDEX:
        raise ProtocolError(f"report.index must be <= {MAX_GENERATOR_INDEX}")
    through = part.get("through")
    if through is not None:
        through = _int(part, "through", minimum=0, where="report")
    seconds = part.get("seconds") or []
    if not isinstance(seconds, list) or not all(isinstance(s, dict) for s in seconds):
        raise ProtocolError("report.seconds must be a list of objects")
    return {"index": index, "through": through, "seconds": seconds}


# -- parent → child: the start line ------------------------------------------------------------
DEFAULT_STOP_TIMEOUT = 2.0
DEFAULT_JOIN_TIMEOUT = 30.0
DEFAULT_MASTER_TIMEOUT = 10
DEFAULT_BIND_HOST = "127.0.0.1"
ENGINE_MODES = ("local", "master", "worker")


@dataclass(frozen=True)
class Pin:
    """The one address the child may connect to for the target's host (``pinning``)."""

    host: str
    port: int
    address: str

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "address": self.address}


@dataclass(frozen=True, kw_only=True)
class _Options:
    # Seconds users get to finish their current request once the load stops.
    stop_timeout: float = DEFAULT_STOP_TIMEOUT
    # Connect only to this address (None: no pin, as for a child started by hand).
    pin: Pin | None = None
    mode: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        data = {"mode": self.mode, **asdict(self)}
        data["pin"] = self.pin.to_dict() if self.pin is not None else None
        return data


@dataclass(frozen=True, kw_only=True)
class LocalOptions(_Options):
    """One process makes the load (the default)."""

    mode: ClassVar[str] = "local"


@dataclass(frozen=True, kw_only=True)
class MasterOptions(_Options):
    """A Locust master: waits for ``generators`` workers on ``bind_host`` (any port) for up to
    ``join_timeout`` seconds, drives them and merges their seconds."""

    generators: int
    bind_host: str = DEFAULT_BIND_HOST
    join_timeout: float = DEFAULT_JOIN_TIMEOUT
    mode: ClassVar[str] = "master"


@dataclass(frozen=True, kw_only=True)
class WorkerOptions(_Options):
    """Generator ``index`` of a distributed run: a Locust worker of the master at
    ``master_host:master_port``; quits when the master is silent for ``master_timeout`` s."""

    index: int
    master_host: str
    master_port: int
    master_timeout: int = DEFAULT_MASTER_TIMEOUT
    mode: ClassVar[str] = "worker"


EngineOptions = LocalOptions | MasterOptions | WorkerOptions


@dataclass(frozen=True)
class TargetSpec:
    base_url: str
    headers: dict[str, str]
    auth_type: str  # "none", "basic", "bearer"
    auth_username: str
    auth_password: str
    auth_token: str
    verify_tls: bool
    timeout_seconds: float


@dataclass(frozen=True)
class ExtractSpec:
    var: str
    source: str  # "json", "header", "regex"
    expr: str


@dataclass(frozen=True)
class StepSpec:
    name: str  # "" means: the path (with its query)
    method: str
    path: str
    query: dict[str, Any]  # a value or a list of values per key
    headers: dict[str, str]
    body_type: str  # "none", "json", "text"
    body: str
    weight: int
    expected_statuses: str
    extract: tuple[ExtractSpec, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The snapshot's form of the step, which ``scenario_vars`` reads."""
        return asdict(self)


@dataclass(frozen=True)
class SourceSpec:
    columns: tuple[str, ...]
    rows: list[list[str]]
    mode: str  # "sequential", "random"


@dataclass(frozen=True)
class ScenarioSpec:
    kind: str  # "steps", "locustfile"
    mode: str  # "weighted", "sequence"
    user_class: str  # "fast" (FastHttpUser), "http" (HttpUser)
    think_time_min: float
    think_time_max: float
    locustfile: str
    sources: tuple[SourceSpec, ...]
    steps: tuple[StepSpec, ...]


@dataclass(frozen=True)
class ProfileSpec:
    kind: str
    params: dict[str, Any]  # checked by runs.core.profiles.validate_profile in the child


@dataclass(frozen=True)
class StartLine:
    """The first line the child reads: what it runs and how."""

    target: TargetSpec
    scenario: ScenarioSpec
    profile: ProfileSpec
    engine: EngineOptions


def encode_start(snapshot: Mapping[str, Any], engine: EngineOptions) -> bytes:
    """The start line for ``snapshot`` (a run's stored snapshot) run with ``engine``."""
    return (json.dumps({**snapshot, "engine": engine.to_dict()}) + "\n").encode()


def parse_start(line: str | bytes) -> StartLine:
    """Parse and check the start line. Raises :class:`ProtocolError` naming the bad field.

    Fields the snapshot may leave out (older runs, a child started by hand) take the
    defaults below; an empty value counts as left out, as it always did."""
    try:
        data = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"the start line is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ProtocolError("the start line must be a JSON object")
    return StartLine(
        target=_parse_target(_obj(data, "target")),
        scenario=_parse_scenario(_obj(data, "scenario")),
        profile=_parse_profile(_obj(data, "profile")),
        engine=parse_engine(_opt_obj(data, "engine", "engine")),
    )


def parse_pin(data: Any, where: str = "engine.pin") -> Pin | None:
    """``{"host", "port", "address"}`` or null (no pin)."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ProtocolError(f"{where} must be an object or null")
    port = _int(data, "port", minimum=1, where=where)
    if port > 65535:
        raise ProtocolError(f"{where}.port must be <= 65535")
    return Pin(
        host=_str(data, "host", max_len=255, where=where),
        port=port,
        address=_str(data, "address", max_len=64, where=where),
    )


def parse_engine(data: Mapping[str, Any]) -> EngineOptions:
    where = "engine"
    mode = _opt_str(data, "mode", "local", where)
    if mode not in ENGINE_MODES:
        raise ProtocolError(f"engine.mode must be one of {', '.join(ENGINE_MODES)}, not {mode!r}")
    common: dict[str, Any] = {
        "stop_timeout": _opt_number(data, "stop_timeout", DEFAULT_STOP_TIMEOUT, where, falsy_default=False),
        "pin": parse_pin(data.get("pin")),
    }
    if mode == "master":
        generators = _int(data, "generators", minimum=1, where=where)
        if generators > MAX_GENERATOR_INDEX:
            raise ProtocolError(f"engine.generators must be <= {MAX_GENERATOR_INDEX}")
        return MasterOptions(
            generators=generators,
            bind_host=_opt_str(data, "bind_host", DEFAULT_BIND_HOST, where),
            join_timeout=_opt_number(data, "join_timeout", DEFAULT_JOIN_TIMEOUT, where, falsy_default=False),
            **common,
        )
    if mode == "worker":
        index = _int(data, "index", minimum=0, where=where)
        if index > MAX_GENERATOR_INDEX:
            raise ProtocolError(f"engine.index must be <= {MAX_GENERATOR_INDEX}")
        port = _int(data, "master_port", minimum=1, where=where)
        if port > 65535:
            raise ProtocolError("engine.master_port must be <= 65535")
        return WorkerOptions(
            index=index,
            master_host=_str(data, "master_host", max_len=255, where=where),
            master_port=port,
            master_timeout=(
                _int(data, "master_timeout", minimum=1, where=where)
                if "master_timeout" in data
                else DEFAULT_MASTER_TIMEOUT
            ),
            **common,
        )
    return LocalOptions(**common)


def _parse_target(data: Mapping[str, Any]) -> TargetSpec:
    where = "target"
    auth_type = _opt_str(data, "auth_type", "none", where)
    if auth_type not in ("none", "basic", "bearer"):
        raise ProtocolError(f"target.auth_type: unknown auth type {auth_type!r}")
    verify = data.get("verify_tls", True)
    if not isinstance(verify, bool):
        raise ProtocolError("target.verify_tls must be true or false")
    timeout = _opt_number(data, "timeout_seconds", 30.0, where)
    if timeout < 0:
        raise ProtocolError("target.timeout_seconds must be >= 0")
    return TargetSpec(
        base_url=_str(data, "base_url", max_len=10_000, where=where),
        headers=_str_map(data, "headers", where),
        auth_type=auth_type,
        auth_username=_opt_str(data, "auth_username", "", where),
        auth_password=_opt_str(data, "auth_password", "", where),
        auth_token=_opt_str(data, "auth_token", "", where),
        verify_tls=verify,
        timeout_seconds=timeout,
    )


def _parse_scenario(data: Mapping[str, Any]) -> ScenarioSpec:
    where = "scenario"
    kind = _opt_str(data, "kind", "steps", where)
    if kind not in ("steps", "locustfile"):
        raise ProtocolError(f"scenario.kind: unknown kind {kind!r}")
    mode = _opt_str(data, "mode", "weighted", where)
    if mode not in ("weighted", "sequence"):
        raise ProtocolError(f"scenario.mode: unknown scenario mode {mode!r}")
    return ScenarioSpec(
        kind=kind,
        mode=mode,
        user_class=_opt_str(data, "user_class", "fast", where),
        think_time_min=_opt_number(data, "think_time_min", 0.0, where),
        think_time_max=_opt_number(data, "think_time_max", 0.0, where),
        locustfile=_opt_str(data, "locustfile", "", where),
        sources=tuple(
            _parse_source(s, f"scenario.sources[{i}]")
            for i, s in enumerate(_opt_list(data, "sources", where))
        ),
        steps=tuple(
            _parse_step(s, f"scenario.steps[{i}]") for i, s in enumerate(_opt_list(data, "steps", where))
        ),
    )


def _parse_source(data: Any, where: str) -> SourceSpec:
    if not isinstance(data, dict):
        raise ProtocolError(f"{where} must be an object")
    columns = data.get("columns")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise ProtocolError(f"{where}.columns must be a list of strings")
    rows = data.get("rows")
    if not isinstance(rows, list) or not all(isinstance(r, list) and len(r) == len(columns) for r in rows):
        raise ProtocolError(f"{where}.rows must be a list of rows of {len(columns)} values")
    return SourceSpec(
        columns=tuple(columns),
        rows=[[str(v) for v in row] for row in rows],
        mode=_opt_str(data, "mode", "sequential", where),
    )


def _parse_step(data: Any, where: str) -> StepSpec:
    if not isinstance(data, dict):
        raise ProtocolError(f"{where} must be an object")
    query = data.get("query") or {}
    if not isinstance(query, dict):
        raise ProtocolError(f"{where}.query must be an object")
    body = data.get("body")
    if body is not None and not isinstance(body, str):
        raise ProtocolError(f"{where}.body must be a string")
    extract = []
    for i, rule in enumerate(_opt_list(data, "extract", where)):
        if not isinstance(rule, dict):
            raise ProtocolError(f"{where}.extract[{i}] must be an object")
        rule_where = f"{where}.extract[{i}]"
        extract.append(
            ExtractSpec(
                var=_str(rule, "var", max_len=200, where=rule_where),
                source=_str(rule, "source", max_len=20, where=rule_where),
                expr=_str(rule, "expr", max_len=10_000, where=rule_where, allow_empty=True),
            )
        )
    weight = data.get("weight") or 1
    if not isinstance(weight, int) or isinstance(weight, bool) or weight < 1:
        raise ProtocolError(f"{where}.weight must be a positive integer")
    return StepSpec(
        name=_opt_str(data, "name", "", where),
        method=_opt_str(data, "method", "GET", where).upper(),
        path=_opt_str(data, "path", "/", where),
        query={str(k): v for k, v in query.items()},
        headers=_str_map(data, "headers", where),
        body_type=_opt_str(data, "body_type", "none", where),
        body=body or "",
        weight=weight,
        expected_statuses=_opt_str(data, "expected_statuses", "200-399", where),
        extract=tuple(extract),
    )


def _parse_profile(data: Mapping[str, Any]) -> ProfileSpec:
    params = data.get("params")
    if not isinstance(params, dict):
        raise ProtocolError("profile.params must be an object")
    return ProfileSpec(kind=_str(data, "kind", max_len=50, where="profile"), params=params)


# -- encoding ----------------------------------------------------------------------------------
def encode(message: Message) -> bytes:
    """One line (with its newline) for the channel."""
    return (json.dumps(asdict(message), separators=(",", ":")) + "\n").encode()


def encode_second(second: SecondPayload) -> bytes:
    """One ``second`` line from its wire form, without building a :class:`SecondMessage`
    (the child's per-second path)."""
    return (json.dumps(second, separators=(",", ":")) + "\n").encode()


def encode_stop() -> bytes:
    return b'{"cmd":"stop"}\n'


@dataclass(frozen=True)
class StopCommand:
    name: str = field(default="stop", init=False)


@dataclass(frozen=True)
class SetCommand:
    """Live control: hold ``users`` (closed model) or start ``rate`` iterations/s (open model)
    from now on; exactly one of them is set."""

    id: int
    users: int | None = None
    rate: float | None = None
    name: str = field(default="set", init=False)


Command = StopCommand | SetCommand


def encode_set(command: SetCommand) -> bytes:
    body: dict[str, Any] = {"cmd": "set", "id": command.id}
    if command.users is not None:
        body["users"] = command.users
    if command.rate is not None:
        body["rate"] = command.rate
    return (json.dumps(body, separators=(",", ":")) + "\n").encode()


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


def parse_command(line: str | bytes) -> Command:
    """Parse a parent → child command line. Raises :class:`ProtocolError`."""
    try:
        data = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError("command is not JSON") from exc
    cmd = data.get("cmd") if isinstance(data, dict) else None
    if cmd == "stop":
        return StopCommand()
    if cmd != "set":
        raise ProtocolError(f"unknown command {str(data)[:200]!r}")
    command_id = _int(data, "id", minimum=1, where="set")
    has_users, has_rate = "users" in data, "rate" in data
    if has_users == has_rate:
        raise ProtocolError("set needs exactly one of users and rate")
    if has_users:
        return SetCommand(id=command_id, users=_int(data, "users", minimum=0, where="set"))
    rate = data.get("rate")
    if not _is_number(rate) or rate <= 0 or rate == float("inf"):
        raise ProtocolError("set.rate must be a positive number")
    return SetCommand(id=command_id, rate=float(rate))


def parse_control(data: Mapping[str, Any]) -> ControlMessage:
    epoch: Any = data.get("epoch")
    if not _is_number(epoch) or epoch < 0 or epoch == float("inf"):
        raise ProtocolError("epoch must be a non-negative number")
    applied = data.get("applied")
    if not isinstance(applied, bool):
        raise ProtocolError("applied must be true or false")
    return ControlMessage(
        id=_int(data, "id", minimum=1),
        epoch=float(epoch),
        applied=applied,
        message=_str(data, "message", max_len=MAX_ERROR_MESSAGE, allow_empty=True)
        if "message" in data
        else "",
    )


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


def parse_search(data: Mapping[str, Any]) -> SearchMessage:
    if data.get("decision") is None:
        if data.get("outcome") is None:
            raise ProtocolError("a search message needs a decision or an outcome")
        return SearchMessage(decision=None, outcome=_search_outcome(data["outcome"]))
    decision = _obj(data, "decision")
    _int(decision, "index", minimum=0, where="decision")
    for key in ("start_t", "end_t", "requests", "failures", "dropped"):
        _int(decision, key, minimum=0, where="decision")
    for key in ("load", "rps", "goodput"):
        if not _is_number(decision.get(key)) or decision[key] < 0:
            raise ProtocolError(f"decision.{key} must be a non-negative number")
    for key in ("error_rate", "p50_ms", "p95_ms", "p99_ms", "next_load"):
        if decision.get(key) is not None and not _is_number(decision[key]):
            raise ProtocolError(f"decision.{key} must be a number or null")
    if not isinstance(decision.get("passed"), bool):
        raise ProtocolError("decision.passed must be true or false")
    for key in ("reason", "decided_by", "phase"):
        _str(decision, key, max_len=MAX_SEARCH_TEXT, where="decision")
    checks = decision.get("checks")
    if not isinstance(checks, list) or not all(isinstance(c, dict) for c in checks):
        raise ProtocolError("decision.checks must be a list of objects")
    for check in checks:
        _str(check, "label", max_len=MAX_SEARCH_TEXT, where="check")
        if not isinstance(check.get("passed"), bool):
            raise ProtocolError("check.passed must be true or false")
    outcome = data.get("outcome")
    return SearchMessage(
        decision=dict(decision), outcome=_search_outcome(outcome) if outcome is not None else None
    )


def _search_outcome(outcome: Any) -> dict[str, Any]:
    if not isinstance(outcome, dict):
        raise ProtocolError("outcome must be an object or null")
    if outcome.get("status") not in SEARCH_STATUSES:
        raise ProtocolError(f"unknown search status {outcome.get('status')!r}")
    for key in ("low", "high"):
        if outcome.get(key) is not None and not _is_number(outcome[key]):
            raise ProtocolError(f"outcome.{key} must be a number or null")
    _str(outcome, "message", max_len=MAX_SEARCH_TEXT, allow_empty=True, where="outcome")
    return dict(outcome)


_PARSERS: dict[str, Callable[[Mapping[str, Any]], Message]] = {
    "search": parse_search,
    "hello": parse_hello,
    "second": parse_second,
    "done": parse_done,
    "fatal": parse_fatal,
    "master": parse_master,
    "control": parse_control,
}


# -- field helpers -----------------------------------------------------------------------------
def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def _name(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _int(data: Mapping[str, Any], key: str, *, minimum: int, where: str = "") -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolError(f"{_name(where, key)} must be an integer")
    if value < minimum:
        raise ProtocolError(f"{_name(where, key)} must be >= {minimum}")
    return value


def _str(
    data: Mapping[str, Any], key: str, *, max_len: int, allow_empty: bool = False, where: str = ""
) -> str:
    value = data.get(key)
    if not isinstance(value, str) or (not value and not allow_empty):
        raise ProtocolError(f"{_name(where, key)} must be a non-empty string")
    if len(value) > max_len:
        raise ProtocolError(f"{_name(where, key)} is longer than {max_len} characters")
    return value


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ProtocolError(f"{key} must be a list")
    return value


# Start-line fields: left out, null or empty means the default.
def _obj(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ProtocolError(f"{key} must be an object")
    return value


def _opt_obj(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise ProtocolError(f"{where} must be an object")
    return value


def _opt_str(data: Mapping[str, Any], key: str, default: str, where: str) -> str:
    value = data.get(key)
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        raise ProtocolError(f"{_name(where, key)} must be a string")
    return value


def _opt_number(
    data: Mapping[str, Any], key: str, default: float, where: str, *, falsy_default: bool = True
) -> float:
    value = data.get(key)
    if value is None or (falsy_default and value == 0):
        return default
    if not _is_number(value):
        raise ProtocolError(f"{_name(where, key)} must be a number")
    return float(value)


def _opt_list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise ProtocolError(f"{_name(where, key)} must be a list")
    return value


def _str_map(data: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise ProtocolError(f"{_name(where, key)} must be an object")
    return {str(k): str(v) for k, v in value.items()}
