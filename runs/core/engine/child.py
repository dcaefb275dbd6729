"""The Locust child process: ``python -m runs.core.engine.child``.

The only module that imports Locust (and so gevent's monkey-patching). It never imports
Django. It reads the run snapshot as the first line of stdin, runs the load and streams
per-second results as JSON lines on stdout; ``runs.core.engine.protocol`` documents the channel.

Closed-model profiles (users) run on Locust's runner with a ``LoadTestShape`` driven by
``runs.profiles.shape_tick``. Arrival-rate profiles run on :class:`OpenLoad` instead, which
Locust lacks: iterations start on a schedule, whatever the response times.

Distributed runs use Locust's own master/worker mode over ZeroMQ (``engine.mode``, see
``runs.core.engine.protocol``): the master drives the shape and merges the workers' exact
per-second measurements (``runs.core.engine.merge``), which each worker attaches to Locust's
``report_to_master`` event data instead of Locust's own stats.
"""

from __future__ import annotations

# Locust monkey-patches the standard library on import; that must happen before anything
# else imports socket, ssl or threading.
import locust  # isort: skip  # noqa: I001

import base64
import json
import linecache
import logging
import os
import random
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import gevent
import gevent.event
import gevent.pool
from gevent.fileobject import FileObject
from locust import FastHttpUser, HttpUser, LoadTestShape, User, between, constant
from locust import runners as locust_runners
from locust.env import Environment
from locust.rpc import Message
from locust.runners import (
    STATE_INIT,
    STATE_MISSING,
    STATE_RUNNING,
    STATE_SPAWNING,
    STATE_STOPPED,
    STATE_STOPPING,
    LocalRunner,
)

from runs import profiles
from runs.core.engine import merge, pinning, protocol
from runs.core.engine import scenario_vars as sv
from runs.histogram import Histogram

log = logging.getLogger("scaletest.child")

MAX_MESSAGE = protocol.MAX_ERROR_MESSAGE


class UnexpectedStatus(Exception):
    """The target answered with a status code the step does not expect."""


# -- expected status codes --------------------------------------------------------------------
def parse_statuses(spec: str) -> frozenset[int]:
    """``"200-299,304"`` → the set of codes. Empty or invalid parts raise ``ValueError``."""
    codes: set[int] = set()
    for part in (p.strip() for p in (spec or "").split(",")):
        if not part:
            continue
        low, _, high = part.partition("-")
        start, end = int(low), int(high or low)
        if not 100 <= start <= end <= 599:
            raise ValueError(f"bad status range {part!r}")
        codes.update(range(start, end + 1))
    if not codes:
        raise ValueError("no expected status codes")
    return frozenset(codes)


class Expect:
    """A step's expected status codes, carried to the recorder in the request event's context.

    Locust fires the request event with the response and its own verdict (``exception``);
    ``judge`` turns that into ours, exactly as ``catch_response`` + ``success()`` /
    ``failure()`` did: a response with an expected code is a success (whatever Locust
    thought of it), any other code is an :class:`UnexpectedStatus`, and no response at all
    (status 0: refused, reset, timeout) keeps Locust's connection error and its class.
    """

    __slots__ = ("codes", "spec")

    def __init__(self, codes: frozenset[int], spec: str) -> None:
        self.codes = codes
        self.spec = spec

    def judge(self, response: Any, exception: BaseException | None) -> BaseException | None:
        code = response.status_code if response is not None else 0
        if not code:
            return exception
        if code in self.codes:
            return None
        return UnexpectedStatus(f"HTTP {code} (expected {self.spec})")


EXPECT_KEY = "scaletest_expect"


# -- measurement -------------------------------------------------------------------------------
class _Endpoint:
    __slots__ = ("requests", "failures", "bytes", "hist")

    def __init__(self) -> None:
        self.requests = 0
        self.failures = 0
        self.bytes = 0
        self.hist = Histogram()


class Recorder:
    """Per-second, per-endpoint measurements, keyed by the wall-clock second of completion.

    ``on_request`` is the hot path (one call per request): a couple of dict lookups and a
    histogram increment, no allocation once an endpoint has been seen in the current second.
    """

    def __init__(self) -> None:
        # second → {(method, name) → _Endpoint}
        self.seconds: dict[int, dict[tuple[str, str], _Endpoint]] = {}
        # second → {(method, name, error class, message) → count}
        self.errors: dict[int, dict[tuple[str, str, str, str], int]] = {}
        # second → iterations due then that the in-flight cap kept from starting (open model)
        self.dropped: dict[int, int] = {}

    def on_dropped(self, second: int) -> None:
        self.dropped[second] = self.dropped.get(second, 0) + 1

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        response_length: int | None,
        exception: BaseException | None = None,
        context: dict[str, Any] | None = None,
        response: Any = None,
        **_: Any,
    ) -> None:
        if context:
            expect = context.get(EXPECT_KEY)
            if expect is not None:
                exception = expect.judge(response, exception)
        second = int(time.time())
        endpoints = self.seconds.get(second)
        if endpoints is None:
            endpoints = self.seconds[second] = {}
        key = (request_type, name)
        ep = endpoints.get(key)
        if ep is None:
            ep = endpoints[key] = _Endpoint()
        ep.requests += 1
        if response_length:
            ep.bytes += response_length
        ep.hist.record_us(int((response_time or 0.0) * 1000.0 + 0.5))
        if exception is not None:
            ep.failures += 1
            self._error(second, request_type, name, exception)

    def _error(self, second: int, method: str, name: str, exception: BaseException) -> None:
        groups = self.errors.get(second)
        if groups is None:
            groups = self.errors[second] = {}
        message = str(exception) if not isinstance(exception, str) else exception
        error_class = type(exception).__name__ if not isinstance(exception, str) else "Error"
        key = (method, name, error_class[:200], message[:MAX_MESSAGE])
        groups[key] = groups.get(key, 0) + 1

    def pop_second(self, second: int, *, users: int, cpu_percent: float | None) -> dict[str, Any]:
        """The ``second`` message for ``second`` (empty when nothing completed in it)."""
        endpoints = self.seconds.pop(second, {})
        errors = self.errors.pop(second, {})
        return {
            "type": "second",
            "epoch": second,
            "users": users,
            "cpu_percent": cpu_percent,
            "dropped_iterations": self.dropped.pop(second, 0),
            "endpoints": [
                {
                    "method": method,
                    "name": name,
                    "requests": ep.requests,
                    "failures": ep.failures,
                    "bytes": ep.bytes,
                    "histogram": ep.hist.to_dict(),
                }
                for (method, name), ep in endpoints.items()
            ],
            "errors": [
                {"method": m, "name": n, "error_class": c, "message": msg, "count": count}
                for (m, n, c, msg), count in errors.items()
            ],
        }

    def pending_before(self, second: int) -> list[int]:
        """Seconds still held that are earlier than ``second`` (stragglers after a clock step)."""
        return sorted(s for s in set(self.seconds) | set(self.errors) | set(self.dropped) if s < second)


class CpuMeter:
    """This process's CPU use between two calls, in percent of one core."""

    def __init__(self) -> None:
        self._last = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float]:
        t = os.times()
        return t.user + t.system, time.monotonic()

    def percent(self) -> float:
        cpu, wall = self._sample()
        last_cpu, last_wall = self._last
        self._last = (cpu, wall)
        elapsed = wall - last_wall
        return round(max(0.0, (cpu - last_cpu) / elapsed * 100.0), 1) if elapsed > 0 else 0.0


# -- the user class from the scenario -----------------------------------------------------------
def _auth_header(target: dict[str, Any]) -> dict[str, str]:
    kind = target.get("auth_type") or "none"
    if kind == "basic":
        raw = f"{target.get('auth_username', '')}:{target.get('auth_password', '')}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
    if kind == "bearer":
        return {"Authorization": f"Bearer {target.get('auth_token', '')}"}
    if kind != "none":
        raise ValueError(f"unknown auth type {kind!r}")
    return {}


def _has_header(headers: dict[str, str], name: str) -> bool:
    return any(k.lower() == name for k in headers)


def _step_request(step: dict[str, Any], base_headers: dict[str, str]) -> dict[str, Any]:
    """Everything a request of ``step`` needs, computed once instead of per request."""
    path = step.get("path") or "/"
    if not path.startswith("/"):
        path = "/" + path
    query = step.get("query") or {}
    if query:
        path += ("&" if "?" in path else "?") + urlencode(query, doseq=True)
    headers = {**base_headers, **{str(k): str(v) for k, v in (step.get("headers") or {}).items()}}
    body_type = step.get("body_type") or "none"
    data: bytes | None = None
    if body_type in ("json", "text") and step.get("body"):
        data = str(step["body"]).encode()
        if not _has_header(headers, "content-type"):
            headers["Content-Type"] = (
                "application/json" if body_type == "json" else "text/plain; charset=utf-8"
            )
    return {
        "method": str(step.get("method") or "GET").upper(),
        "url": path,
        "name": step.get("name") or path,
        "headers": headers,
        "data": data,
        "expected": parse_statuses(step.get("expected_statuses") or "200-399"),
        "expected_spec": (step.get("expected_statuses") or "200-399").replace(" ", ""),
    }


def _make_task(req: dict[str, Any], extra: dict[str, Any]) -> Callable[[Any], None]:
    method, url, name, headers, data = req["method"], req["url"], req["name"], req["headers"], req["data"]
    # The status is judged in Recorder.on_request (see Expect), not with catch_response: its
    # ResponseContextManager copies every response and costs ~2.5% of the child's CPU.
    context = {EXPECT_KEY: Expect(req["expected"], req["expected_spec"])}
    request_kwargs = {"name": name, "headers": headers, "data": data, "context": context, **extra}

    def task(user: Any) -> None:
        user.client.request(method, url, **request_kwargs)

    task.__name__ = f"step_{name}"[:100]
    return task


# -- variables and extraction (only for steps that use them) ------------------------------------
def _quote_path_value(value: str) -> str:
    return quote(value, safe="/")


class ExtractingExpect:
    """Per request of a step that extracts: judges the status as :class:`Expect`, then
    extracts into the iteration's values. A value that cannot be extracted fails the request
    (an :class:`~runs.core.engine.scenario_vars.ExtractionError` in the errors table)."""

    __slots__ = ("expect", "extractor", "values", "ok")

    def __init__(self, expect: Expect, extractor: sv.Extractor, values: dict[str, str]) -> None:
        self.expect = expect
        self.extractor = extractor
        self.values = values
        self.ok = False

    def judge(self, response: Any, exception: BaseException | None) -> BaseException | None:
        exception = self.expect.judge(response, exception)
        if exception is not None or response is None or not response.status_code:
            return exception
        try:
            self.extractor.apply(content=response.content, headers=response.headers, into=self.values)
        except sv.ExtractionError as exc:
            return exc
        self.ok = True
        return None


class TemplatedStep:
    """A step whose path, query values, header values or body hold ``${name}``, or that
    extracts: its templates are compiled once here, and each call renders them."""

    def __init__(self, step: dict[str, Any], base_headers: dict[str, str], extra: dict[str, Any]) -> None:
        static = _step_request(step, base_headers)
        self.method, self.name, self.extra = static["method"], static["name"], extra
        self.expect = Expect(static["expected"], static["expected_spec"])
        path = step.get("path") or "/"
        self.path = sv.compile_template(path if path.startswith("/") else "/" + path)
        self.query = [
            (str(k), sv.compile_template(str(v)))
            for k, value in (step.get("query") or {}).items()
            for v in (value if isinstance(value, list) else [value])
        ]
        own = {str(k): str(v) for k, v in (step.get("headers") or {}).items()}
        templated = {k for k, v in own.items() if sv.has_template(v)}
        self.headers = {k: v for k, v in static["headers"].items() if k not in templated}
        self.header_templates = [(k, sv.compile_template(own[k])) for k in templated]
        self.data = static["data"]
        templated_body = static["data"] is not None and sv.has_template(step["body"])
        self.body = sv.compile_template(step["body"]) if templated_body else None
        rules = step.get("extract") or []
        self.extractor = sv.Extractor(rules) if rules else None
        self.context = {EXPECT_KEY: self.expect}
        self.names = sv.step_names_used(step)

    def render(self, values: dict[str, str]) -> tuple[str, dict[str, str], bytes | None]:
        url = self.path.render(values, _quote_path_value)
        if self.query:
            url += ("&" if "?" in url else "?") + urlencode([(k, t.render(values)) for k, t in self.query])
        headers = self.headers
        if self.header_templates:
            headers = dict(headers)
            for key, template in self.header_templates:
                value = template.render(values)
                if "\n" in value or "\r" in value:
                    raise ValueError(f"the value of header {key} would contain a line break")
                headers[key] = value
        data = self.data if self.body is None else self.body.render(values).encode()
        return url, headers, data

    def __call__(self, user: Any, values: dict[str, str]) -> bool:
        """One request; False when the iteration cannot go on (a value was not extracted)."""
        try:
            url, headers, data = self.render(values)
        except (KeyError, ValueError) as exc:
            error = ValueError(f"variable {exc.args[0]} is not set") if isinstance(exc, KeyError) else exc
            user.environment.events.request.fire(
                request_type=self.method,
                name=self.name,
                response_time=0.0,
                response_length=0,
                exception=error,
                context={},
                response=None,
            )
            return False
        if self.extractor is None:
            user.client.request(
                self.method,
                url,
                name=self.name,
                headers=headers,
                data=data,
                context=self.context,
                **self.extra,
            )
            return True
        judge = ExtractingExpect(self.expect, self.extractor, values)
        user.client.request(
            self.method,
            url,
            name=self.name,
            headers=headers,
            data=data,
            context={EXPECT_KEY: judge},
            **self.extra,
        )
        return judge.ok


def _pickers(snapshot: dict[str, Any]) -> list[sv.RowPicker]:
    return [
        sv.RowPicker(list(src["columns"]), list(src["rows"]), mode=str(src.get("mode") or "sequential"))
        for src in (snapshot["scenario"].get("sources") or [])
    ]


def _uses_variables(step: dict[str, Any]) -> bool:
    return bool(step.get("extract")) or any(sv.has_template(t) for _, t in sv.step_template_texts(step))


def _check_variables(scenario: dict[str, Any], mode: str) -> None:
    names = [c for src in scenario.get("sources") or [] for c in src["columns"]]
    steps = scenario.get("steps") or []
    if mode != "sequence" and any(step.get("extract") for step in steps):
        raise ValueError("steps extract values, which needs the scenario's sequence mode")
    for index, missing in sv.undefined_variables(mode=mode, source_names=names, steps=steps):
        raise ValueError(
            f"step {index + 1} uses {', '.join(missing)}, which no data source or earlier step defines"
        )


def _weighted_templated_task(step: TemplatedStep, pickers: list[sv.RowPicker]) -> Callable[[Any], None]:
    # Only the sources this step reads advance their cursor.
    mine = [p for p in pickers if step.names & set(p.columns)]

    def task(user: Any) -> None:
        values: dict[str, str] = {}
        for picker in mine:
            picker.fill(values)
        step(user, values)

    task.__name__ = f"step_{step.name}"[:100]
    return task


def _sequence_task(
    runners: list[Callable[[Any, dict[str, str]], bool]], pickers: list[sv.RowPicker], think: bool
) -> Callable[[Any], None]:
    """One iteration: a row of every source, then every step in order (think time between
    steps in the closed model). A step whose extraction failed ends the iteration."""

    def sequence(user: Any) -> None:
        values: dict[str, str] = {}
        for picker in pickers:
            picker.fill(values)
        first = True
        for run_step in runners:
            if think and not first:
                gevent.sleep(user.wait_time())
            first = False
            if not run_step(user, values):
                return

    return sequence


def _plain_step(task: Callable[[Any], None]) -> Callable[[Any, dict[str, str]], bool]:
    def run_step(user: Any, values: dict[str, str]) -> bool:
        task(user)
        return True

    return run_step


# -- locustfile scenarios ----------------------------------------------------------------------
LOCUSTFILE_NAME = "<locustfile>"


def load_locustfile(source: str, *, host: str) -> list[type]:
    """The User classes of a locustfile, with their host forced to the target's.

    The file runs in a fresh module in this (pinned) child: name resolution only answers the
    target's checked address (``runs.core.engine.pinning``), so the ``client`` of HttpUser and
    FastHttpUser, and any other library that resolves names, reaches the target only. Code in
    the file can still do anything the worker's OS user can (raw sockets to IP literals,
    files): that is why locustfile scenarios need an administrator's permission
    (``runs.services.scenarios.locustfile_allowed``).
    """
    import types

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


def _is_locustfile(snapshot: dict[str, Any]) -> bool:
    return snapshot["scenario"].get("kind") == "locustfile"


def build_user_classes(snapshot: dict[str, Any], *, open_model: bool = False) -> list[type]:
    scenario = snapshot["scenario"]
    if scenario.get("kind") == "locustfile":
        if open_model:
            raise ValueError("locustfile scenarios run with user-based load profiles, not arrival rates")
        host = str(snapshot["target"]["base_url"]).rstrip("/")
        return load_locustfile(str(scenario.get("locustfile") or ""), host=host)
    return [build_user_class(snapshot, open_model=open_model)]


def build_user_class(snapshot: dict[str, Any], *, open_model: bool = False) -> type:
    target = snapshot["target"]
    scenario = snapshot["scenario"]
    steps = scenario.get("steps") or []
    if not steps:
        raise ValueError("the scenario has no steps")
    base_headers = {str(k): str(v) for k, v in (target.get("headers") or {}).items()}
    base_headers.update(_auth_header(target))
    timeout = float(target.get("timeout_seconds") or 30.0)
    verify = bool(target.get("verify_tls", True))
    use_requests = scenario.get("user_class") == "http"

    # HttpUser (requests) takes the timeout and redirect policy per request; FastHttpUser has
    # them on the class. Redirects are never followed: a redirect off the verified host must
    # not receive load.
    extra: dict[str, Any] = {"allow_redirects": False, "timeout": timeout} if use_requests else {}
    low = float(scenario.get("think_time_min") or 0.0)
    high = max(low, float(scenario.get("think_time_max") or 0.0))
    mode = str(scenario.get("mode") or "weighted")
    if mode not in ("weighted", "sequence"):
        raise ValueError(f"unknown scenario mode {mode!r}")
    _check_variables(scenario, mode)
    pickers = _pickers(snapshot)
    # Steps without variables take exactly the plain path: one precomputed request.
    plain = [not _uses_variables(step) for step in steps]
    tasks: dict[Callable[[Any], None], int] | list[Callable[[Any], None]]
    if mode == "sequence":
        runners = [
            _plain_step(_make_task(_step_request(step, base_headers), extra))
            if is_plain
            else TemplatedStep(step, base_headers, extra)
            for step, is_plain in zip(steps, plain, strict=True)
        ]
        tasks = [_sequence_task(runners, pickers, think=high > 0 and not open_model)]
    else:
        tasks = {
            (
                _make_task(_step_request(step, base_headers), extra)
                if is_plain
                else _weighted_templated_task(TemplatedStep(step, base_headers, extra), pickers)
            ): int(step.get("weight") or 1)
            for step, is_plain in zip(steps, plain, strict=True)
        }
    wait_time = constant(0) if high == 0 else between(low, high)
    attrs: dict[str, Any] = {
        "host": str(target["base_url"]).rstrip("/"),
        "tasks": tasks,
        "wait_time": wait_time,
        "abstract": False,
    }
    if use_requests:

        def on_start(self: Any) -> None:
            self.client.verify = verify

        attrs["on_start"] = on_start
        base: type = HttpUser
    else:
        attrs.update(
            network_timeout=timeout,
            connection_timeout=timeout,
            insecure=not verify,
            max_redirects=0,
        )
        base = FastHttpUser
    return type("ScenarioUser", (base,), attrs)


class ProfileShape(LoadTestShape):
    """Drives Locust from the same profile math as the preview chart."""

    def __init__(self, plan: profiles.Plan) -> None:
        super().__init__()
        self.plan = plan

    def tick(self) -> tuple[int, float] | None:
        return profiles.shape_tick(self.plan, self.get_run_time())


# -- the open model (arrival rate) ---------------------------------------------------------------
class OpenLoad:
    """Starts iterations on the plan's schedule, whatever the response times (open model).

    A dispatcher greenlet sleeps until each due time of ``profiles.start_offsets`` and starts
    one iteration (one weighted scenario step, no think time) in a greenlet of a pool of
    ``max_in_flight``. When the pool is full at a due time the iteration is not started and
    is counted as dropped in the second it was due, as k6 does; it is never queued, which
    would hide the overload. Each running iteration has a user (and so a client with its own
    connection) to itself, so the client is never the hidden limit. Latency is measured from
    the actual send by Locust's clients; how late the dispatcher started an iteration is
    tracked in ``max_lag`` and logged.
    """

    def __init__(
        self, env: Environment, user_class: type[Any], plan: profiles.Plan, recorder: Recorder, *, start: int
    ) -> None:
        assert plan.max_in_flight is not None
        self.env = env
        self.user_class = user_class
        self.plan = plan
        self.recorder = recorder
        self.start = start  # the wall-clock second at which t = 0
        self.pool = gevent.pool.Pool(plan.max_in_flight)
        self.tasks: list[Callable[[Any], None]] = list(user_class.tasks)  # expanded by weight
        self.idle: list[Any] = []
        self.users_created = 0
        self.started = 0
        self.dropped = 0
        self.peak = 0  # most iterations in flight since the last ``take_peak``
        self.max_lag = 0.0
        self.dispatcher: gevent.Greenlet | None = None

    def take_peak(self) -> int:
        peak, self.peak = self.peak, len(self.pool)
        return max(peak, self.peak)

    def dispatch(self) -> None:
        # Wall-clock second ``start`` on the monotonic clock, taken at one instant.
        origin = time.monotonic() + (self.start - time.time())
        for offset in profiles.start_offsets(self.plan):
            due = origin + offset
            delay = due - time.monotonic()
            if delay > 0:
                gevent.sleep(delay)
            if self.pool.full():
                self.dropped += 1
                self.recorder.on_dropped(self.start + int(offset))
                continue
            self.max_lag = max(self.max_lag, time.monotonic() - due)
            self.pool.spawn(self.iteration)
            self.started += 1
            self.peak = max(self.peak, len(self.pool))
        # The last iterations are due before the end; the load lasts the planned duration.
        gevent.sleep(max(0.0, origin + self.plan.duration - time.monotonic()))

    def iteration(self) -> None:
        user = self.idle.pop() if self.idle else self._new_user()
        try:
            random.choice(self.tasks)(user)
        except Exception as exc:  # noqa: BLE001 - as Locust's catch_exceptions: log, keep going
            log.warning("iteration failed: %s: %s", type(exc).__name__, exc)
        self.idle.append(user)

    def _new_user(self) -> Any:
        user = self.user_class(self.env)
        user.on_start()
        self.users_created += 1
        return user

    def stop(self, timeout: float) -> None:
        """Start nothing more; give in-flight iterations ``timeout`` seconds, then kill them."""
        if self.dispatcher is not None:
            self.dispatcher.kill(block=True)
        if not self.pool.join(timeout=timeout):
            self.pool.kill(block=True, timeout=1.0)
        log.info(
            "open model: %d iterations started, %d dropped, %d clients, dispatcher lag up to %.1f ms",
            self.started,
            self.dropped,
            self.users_created,
            self.max_lag * 1000.0,
        )
        if self.max_lag > 0.1:
            log.warning("the load generator started iterations up to %.0f ms late", self.max_lag * 1000.0)


# -- the process -------------------------------------------------------------------------------
class Child:
    def __init__(self, out_fd: int) -> None:
        self.out_fd = out_fd
        self.recorder = Recorder()
        self.cpu = CpuMeter()
        self.stop_event = gevent.event.Event()
        self.stop_reason = "finished"
        self.env: Environment | None = None
        self.runner: LocalRunner | None = None
        self.open: OpenLoad | None = None
        self.next_second = 0
        self.signals = 0
        # Worker mode: seconds wait here for the next report to the master instead of stdout.
        self.outbox: list[dict[str, Any]] | None = None
        self.lost = ""  # master mode: why the run lost a generator

    # output
    def send(self, line: bytes) -> None:
        view = memoryview(line)
        while view:
            written = os.write(self.out_fd, view)
            view = view[written:]

    def send_second(self, second: int, cpu_percent: float | None) -> None:
        if self.open is not None:
            users = self.open.take_peak()
        else:
            users = self.runner.user_count if self.runner else 0
        message = self.recorder.pop_second(second, users=users, cpu_percent=cpu_percent)
        if self.outbox is not None:
            self.outbox.append(message)
            return
        self.send((json.dumps(message, separators=(",", ":")) + "\n").encode())

    def send_message(self, message: dict[str, Any]) -> None:
        self.send((json.dumps(message, separators=(",", ":")) + "\n").encode())

    # stopping
    def request_stop(self, reason: str) -> None:
        if not self.stop_event.is_set():
            self.stop_reason = reason
            self.stop_event.set()

    def on_sigterm(self) -> None:
        self.signals += 1
        self.request_stop("signal")
        if self.signals > 1:
            # Second SIGTERM: do not wait for in-flight requests any longer.
            if self.runner is not None:
                self.runner.user_greenlets.kill(block=False)
            if self.open is not None:
                self.open.pool.kill(block=False)

    def read_commands(self, stdin: Any) -> None:
        while True:
            line = stdin.readline()
            if not line:
                self.request_stop("eof")
                return
            try:
                protocol.parse_command(line)
            except protocol.ProtocolError as exc:
                log.warning("ignoring command line: %s", exc)
                continue
            self.request_stop("stopped")

    # the per-second clock
    def emit_loop(self) -> None:
        while True:
            now = time.time()
            gevent.sleep(max(0.0, int(now) + 1 - now) + 0.005)
            self.emit_completed(int(time.time()))

    def emit_completed(self, current: int) -> None:
        # One CPU sample covers the time since the previous one; seconds sent together share it.
        cpu = self.cpu.percent()
        for second in self.recorder.pending_before(self.next_second):
            self.send_second(second, None)  # a clock step put results into an already-sent second
        while self.next_second < current:
            self.send_second(self.next_second, cpu)
            self.next_second += 1

    # main
    def run(self, snapshot: dict[str, Any]) -> str:
        engine = snapshot.get("engine") or {}
        if (engine.get("mode") or "local") != "worker":
            # Connect only to the address the parent checked. A worker installs it once it is
            # connected to its master (see run_worker).
            pinning.install(engine.get("pin"))
        profile = snapshot["profile"]
        # Normalise as the form did (numbers, defaults); the parent enforced the real limits.
        params = profiles.validate_profile(
            profile["kind"], profile["params"], max_users=10**9, max_seconds=10**9
        )
        plan = profiles.build_plan(profile["kind"], params)
        user_classes = build_user_classes(snapshot, open_model=plan.is_open)
        mode = engine.get("mode") or "local"
        if mode != "local" and plan.is_open:
            raise ValueError("arrival-rate profiles run on one generator only")
        if mode == "master":
            return self.run_master(plan, user_classes, engine, locustfile=_is_locustfile(snapshot))
        if mode == "worker":
            return self.run_worker(user_classes, engine, locustfile=_is_locustfile(snapshot))
        if mode != "local":
            raise ValueError(f"unknown engine mode {mode!r}")
        if plan.is_open:
            return self.run_open(plan, user_classes[0], stop_timeout=float(engine.get("stop_timeout", 2.0)))
        locustfile = _is_locustfile(snapshot)
        self.env = Environment(
            user_classes=user_classes,
            shape_class=ProfileShape(plan),
            stop_timeout=float(engine.get("stop_timeout", 2.0)),
            catch_exceptions=True,
            # A locustfile's hooks (``@events.init.add_listener``...) use Locust's global events.
            events=locust.events if locustfile else None,
        )
        runner = self.runner = self.env.create_local_runner()
        _drop_locust_stats(self.env)
        if locustfile:
            self.env.events.init.fire(environment=self.env, runner=runner, web_ui=None)
        self.env.events.request.add_listener(self.recorder.on_request)
        self.env.events.test_stop.add_listener(lambda **_: self.request_stop("finished"))

        # Start on a whole second, so every t of the run is a full second of load.
        start = int(time.time()) + 1
        self.next_second = start
        self.send(protocol.encode(protocol.HelloMessage(locust.__version__, os.getpid(), start)))
        gevent.sleep(max(0.0, start - time.time()))
        self.cpu.percent()
        if not self.stop_event.is_set():  # a stop that came during start-up sends no load at all
            runner.start_shape()
        emitter = gevent.spawn(self.emit_loop)
        self.stop_event.wait()
        if runner.state != STATE_STOPPED:
            runner.stop()
        emitter.kill(block=True)
        # The partial last second too: nothing measured is dropped.
        self.emit_completed(int(time.time()) + 1)
        return self.stop_reason

    def run_open(self, plan: profiles.Plan, user_class: type[Any], *, stop_timeout: float) -> str:
        """An arrival-rate profile: no Locust runner, :class:`OpenLoad` starts the iterations."""
        self.env = Environment(user_classes=[user_class], catch_exceptions=True)
        self.env.events.request.add_listener(self.recorder.on_request)
        start = int(time.time()) + 1
        self.next_second = start
        load = self.open = OpenLoad(self.env, user_class, plan, self.recorder, start=start)
        self.send(protocol.encode(protocol.HelloMessage(locust.__version__, os.getpid(), start)))
        gevent.sleep(max(0.0, start - time.time()))
        self.cpu.percent()
        if not self.stop_event.is_set():
            load.dispatcher = gevent.spawn(load.dispatch)
            load.dispatcher.link_value(lambda _: self.request_stop("finished"))
        emitter = gevent.spawn(self.emit_loop)
        self.stop_event.wait()
        load.stop(stop_timeout)
        emitter.kill(block=True)
        self.emit_completed(int(time.time()) + 1)
        return self.stop_reason

    # -- distributed: master ------------------------------------------------------------------
    def run_master(
        self, plan: profiles.Plan, user_classes: list[type[Any]], engine: dict[str, Any], *, locustfile: bool
    ) -> str:
        """Drive ``generators`` Locust workers with the shape; merge and send their seconds."""
        expected = int(engine["generators"])
        join_timeout = float(engine.get("join_timeout", 30.0))
        stop_timeout = float(engine.get("stop_timeout", 2.0))
        self.env = Environment(
            user_classes=user_classes,
            shape_class=ProfileShape(plan),
            stop_timeout=stop_timeout,
            catch_exceptions=True,
            events=locust.events if locustfile else None,
        )
        runner = self.env.create_master_runner(str(engine.get("bind_host") or "127.0.0.1"), 0)
        merger: merge.SecondMerger | None = None
        indexes: dict[str, int] = {}  # Locust client id -> our generator index

        def on_worker_report(client_id: str, data: dict[str, Any]) -> None:
            part = data.get("scaletest")
            if not isinstance(part, dict) or merger is None:
                return
            try:
                index = int(part["index"])
                indexes[client_id] = index
                through = part.get("through")
                merger.add(
                    index, part.get("seconds") or [], through=int(through) if through is not None else None
                )
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("bad report from generator %s: %s", client_id, exc)

        self.env.events.worker_report.add_listener(on_worker_report)
        self.env.events.test_stop.add_listener(lambda **_: self.request_stop("finished"))
        self.send(protocol.encode(protocol.MasterMessage(port=runner.server.port)))

        deadline = time.monotonic() + join_timeout
        while len(runner.clients.ready) < expected and not self.stop_event.is_set():
            if time.monotonic() > deadline:
                joined = len(runner.clients.ready)
                runner.quit()
                raise GeneratorsMissing(
                    f"only {joined} of {expected} generators joined within {join_timeout:.0f} s; no load was sent. "
                    "Check that a worker consumes the generator queue and can reach the master's port."
                )
            gevent.sleep(0.1)
        if self.stop_event.is_set():  # cancelled while waiting: no load at all
            runner.quit()
            return self.stop_reason
        members = list(runner.clients)
        start = int(time.time()) + 1
        merger = merge.SecondMerger(expected, start=start)
        self.send(protocol.encode(protocol.HelloMessage(locust.__version__, os.getpid(), start)))
        gevent.sleep(max(0.0, start - time.time()))
        runner.start_shape()

        def watch() -> None:
            while True:
                gevent.sleep(0.25)
                if runner.state in (STATE_RUNNING, STATE_SPAWNING) and not self.stop_event.is_set():
                    for client_id in members:
                        node = runner.clients.get(client_id)
                        if node is None or node.state == STATE_MISSING:
                            self.lose(client_id, indexes.get(client_id), start, missing=node is not None)
                            break
                for message in merger.ready(now=int(time.time())):
                    self.send_message(message)

        watcher = gevent.spawn(watch)
        self.stop_event.wait()
        if runner.state not in (STATE_STOPPED,):
            _stop_workers(runner, members, timeout=stop_timeout + 1.0)
        watcher.kill(block=True)
        for message in merger.flush(until=int(time.time()) + 1):
            self.send_message(message)
        runner.quit()
        if self.lost:
            raise GeneratorLost(self.lost)
        return self.stop_reason

    def lose(self, client_id: str, index: int | None, start: int, *, missing: bool) -> None:
        host = client_id.rsplit("_", 1)[0]
        which = f"generator {index} ({host})" if index is not None else f"a generator ({host})"
        how = "stopped sending heartbeats" if missing else "left the run"
        self.lost = (
            f"{which} {how} at t={max(0, int(time.time()) - start)} s. The run was stopped, since the "
            "remaining generators cannot produce the planned load; the results measured until then are kept."
        )
        log.error("%s", self.lost)
        self.request_stop("stopped")

    # -- distributed: worker ------------------------------------------------------------------
    def run_worker(self, user_classes: list[type[Any]], engine: dict[str, Any], *, locustfile: bool) -> str:
        """Make load for the master at ``master_host:master_port``; report seconds to it."""
        index = int(engine["index"])
        # Seconds reach the master every second (Locust's default is 3 s); a master silent for
        # master_timeout seconds is gone, and the worker quits instead of waiting Locust's 60 s.
        locust_runners.WORKER_REPORT_INTERVAL = 1.0
        locust_runners.MASTER_HEARTBEAT_TIMEOUT = int(engine.get("master_timeout", 10))
        self.outbox = []
        self.env = Environment(
            user_classes=user_classes,
            stop_timeout=float(engine.get("stop_timeout", 2.0)),
            catch_exceptions=True,
            events=locust.events if locustfile else None,
        )
        runner = self.env.create_worker_runner(str(engine["master_host"]), int(engine["master_port"]))
        self.runner = runner  # type: ignore[assignment]  # user_count is all send_second reads
        pinning.install(engine.get("pin"))
        _drop_locust_stats(self.env)
        self.env.events.request.add_listener(self.recorder.on_request)
        started = False

        def on_test_start(**_: Any) -> None:
            nonlocal started
            if not started:
                started = True
                self.next_second = int(time.time())
                self.cpu.percent()

        def on_test_stop(**_: Any) -> None:
            # Every user has stopped: close the last, partial second and send it before Locust
            # tells the master this worker stopped (same ZeroMQ socket, so it arrives first).
            if started:
                self.emit_completed(int(time.time()) + 1)
                runner._send_stats()

        def on_report(client_id: str, data: dict[str, Any]) -> None:
            if started:
                self.emit_completed(int(time.time()))
            seconds, self.outbox = self.outbox or [], []
            data["scaletest"] = {
                "index": index,
                "through": self.next_second if started else None,
                "seconds": seconds,
            }

        self.env.events.test_start.add_listener(on_test_start)
        self.env.events.test_stop.add_listener(on_test_stop)
        self.env.events.report_to_master.add_listener(on_report)
        # The master's quit (or a silent master) kills the runner's greenlets: the run is over.
        gevent.spawn(lambda: (runner.greenlet.join(), self.request_stop("finished")))
        self.stop_event.wait()
        if len(runner.greenlet):
            # Stopped from our side (the generator task, SIGTERM): tell the master we left.
            runner.stop()
            self.env.events.quitting.fire(environment=self.env, reverse=True)
            runner.greenlet.kill(block=True, timeout=2.0)
        return self.stop_reason


def _stop_workers(runner: Any, members: list[str], *, timeout: float) -> None:
    """Stop the workers and wait until each has reported it stopped (its last seconds come
    before that report), polling finely: MasterRunner.stop polls once a second, which a cancel,
    whose grace is a few seconds, cannot afford."""
    # As MasterRunner.stop does first: out of "running" and without a shape or a dispatcher,
    # the master does not hand a stopped worker's users to the others (which would send
    # requests after their last report).
    runner.environment.events.test_stopping.fire(environment=runner.environment)
    runner.update_state(STATE_STOPPING)
    if runner.shape_greenlet is not None:
        runner.shape_greenlet.kill(block=True)
        runner.shape_greenlet = None
        runner.shape_last_tick = None
    runner._users_dispatcher = None
    for client_id in members:
        if runner.clients.get(client_id) is not None:
            runner.server.send_to_client(Message("stop", None, client_id))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        nodes = [runner.clients.get(client_id) for client_id in members]
        # A stopped worker is removed, then comes back as a fresh node in state "ready".
        if all(node is None or node.state in (STATE_INIT, STATE_MISSING) for node in nodes):
            break
        gevent.sleep(0.05)
    runner.update_state(STATE_STOPPED)


class GeneratorsMissing(RuntimeError):
    """Not every generator of a distributed run joined the master in time."""


class GeneratorLost(RuntimeError):
    """A generator left a distributed run while it was going on."""


def _drop_locust_stats(env: Environment) -> None:
    """Unhook Locust's own RequestStats: our exact histograms replace them, and every request
    would otherwise be counted twice on the one core the load runs on."""
    for handler in list(env.events.request._handlers):
        if getattr(handler, "__qualname__", "").startswith("Runner.__init__"):
            env.events.request.remove_listener(handler)


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
        snapshot = json.loads(first)
        if not isinstance(snapshot, dict):
            raise ValueError("the snapshot must be a JSON object")
        gevent.signal_handler(signal.SIGTERM, child.on_sigterm)
        gevent.spawn(child.read_commands, stdin)
        reason = child.run(snapshot)
    except Exception as exc:  # noqa: BLE001 - the parent must get a message, whatever failed
        traceback.print_exc(file=sys.stderr)
        text = (
            str(exc) if isinstance(exc, GeneratorsMissing | GeneratorLost) else f"{type(exc).__name__}: {exc}"
        )
        child.send(protocol.encode(protocol.FatalMessage(text[:10_000])))
        _exit(2)
    child.send(protocol.encode(protocol.DoneMessage(reason)))
    _exit(0)
    return 0


def _exit(code: int) -> None:
    sys.stderr.flush()
    # Skip interpreter teardown: gevent's hub and Locust's greenlets can hang it, and every
    # result has already been written.
    os._exit(code)


if __name__ == "__main__":
    main()
