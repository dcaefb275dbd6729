"""The Locust user class of a run, built from the scenario's steps (or its locustfile).

Steps without variables take the plain path: one request precomputed when the class is built
(``_step_request``, ``_make_task``). Steps whose path, query values, header values or body hold
``${name}``, or that extract values, are compiled once into a :class:`TemplatedStep` that
renders them per request (``runs.core.engine.scenario_vars``).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import gevent
from locust import FastHttpUser, HttpUser, User, between, constant

from runs.core.engine import protocol
from runs.core.engine import scenario_vars as sv
from runs.core.engine.child.expect import EXPECT_KEY, Expect, ExtractingExpect, parse_statuses
from runs.core.engine.child.locustfile import load_locustfile

DEFAULT_EXPECTED = "200-399"


def build_user_classes(start: protocol.StartLine, *, open_model: bool = False) -> list[type[User]]:
    """The user classes of the run: the locustfile's, or one built from the steps."""
    scenario = start.scenario
    if scenario.kind == "locustfile":
        if open_model:
            raise ValueError("locustfile scenarios run with user-based load profiles, not arrival rates")
        return load_locustfile(scenario.locustfile, host=start.target.base_url.rstrip("/"))
    return [build_user_class(start.target, scenario, open_model=open_model)]


def build_user_class(
    target: protocol.TargetSpec, scenario: protocol.ScenarioSpec, *, open_model: bool = False
) -> type[User]:
    steps = scenario.steps
    if not steps:
        raise ValueError("the scenario has no steps")
    base_headers = dict(target.headers)
    base_headers.update(_auth_header(target))
    timeout = target.timeout_seconds
    verify = target.verify_tls
    use_requests = scenario.user_class == "http"

    # HttpUser (requests) takes the timeout and redirect policy per request; FastHttpUser has
    # them on the class. Redirects are never followed: a redirect off the verified host must
    # not receive load.
    extra: dict[str, Any] = {"allow_redirects": False, "timeout": timeout} if use_requests else {}
    low = scenario.think_time_min
    high = max(low, scenario.think_time_max)
    _check_variables(scenario)
    pickers = [sv.RowPicker(list(src.columns), src.rows, mode=src.mode) for src in scenario.sources]
    # Steps without variables take exactly the plain path: one precomputed request.
    plain = [not _uses_variables(step) for step in steps]
    tasks: dict[Callable[[Any], None], int] | list[Callable[[Any], None]]
    if scenario.mode == "sequence":
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
            ): step.weight
            for step, is_plain in zip(steps, plain, strict=True)
        }
    wait_time = constant(0) if high == 0 else between(low, high)
    attrs: dict[str, Any] = {
        "host": target.base_url.rstrip("/"),
        "tasks": tasks,
        "wait_time": wait_time,
        "abstract": False,
    }
    base: type[User]
    if use_requests:

        def on_start(self: Any) -> None:
            self.client.verify = verify

        attrs["on_start"] = on_start
        base = HttpUser
    else:
        attrs.update(
            network_timeout=timeout,
            connection_timeout=timeout,
            insecure=not verify,
            max_redirects=0,
        )
        base = FastHttpUser
    return type("ScenarioUser", (base,), attrs)


# -- plain steps: one precomputed request --------------------------------------------------------
def _auth_header(target: protocol.TargetSpec) -> dict[str, str]:
    if target.auth_type == "basic":
        raw = f"{target.auth_username}:{target.auth_password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
    if target.auth_type == "bearer":
        return {"Authorization": f"Bearer {target.auth_token}"}
    return {}


def _has_header(headers: dict[str, str], name: str) -> bool:
    return any(k.lower() == name for k in headers)


def _absolute(path: str) -> str:
    return path if path.startswith("/") else "/" + path


@dataclass(frozen=True)
class StepRequest:
    """Everything a request of a step needs, computed once instead of per request."""

    method: str
    url: str
    name: str
    headers: dict[str, str]
    data: bytes | None
    expect: Expect


def _step_request(step: protocol.StepSpec, base_headers: dict[str, str]) -> StepRequest:
    path = _absolute(step.path)
    if step.query:
        path += ("&" if "?" in path else "?") + urlencode(step.query, doseq=True)
    headers = {**base_headers, **step.headers}
    data: bytes | None = None
    if step.body_type in ("json", "text") and step.body:
        data = step.body.encode()
        if not _has_header(headers, "content-type"):
            headers["Content-Type"] = (
                "application/json" if step.body_type == "json" else "text/plain; charset=utf-8"
            )
    expected = step.expected_statuses or DEFAULT_EXPECTED
    return StepRequest(
        method=step.method.upper(),
        url=path,
        name=step.name or path,
        headers=headers,
        data=data,
        expect=Expect(parse_statuses(expected), expected.replace(" ", "")),
    )


def _make_task(req: StepRequest, extra: dict[str, Any]) -> Callable[[Any], None]:
    method, url = req.method, req.url
    # The status is judged in Recorder.on_request (see Expect), not with catch_response.
    context = {EXPECT_KEY: req.expect}
    request_kwargs = {"name": req.name, "headers": req.headers, "data": req.data, "context": context, **extra}

    def task(user: Any) -> None:
        user.client.request(method, url, **request_kwargs)

    task.__name__ = f"step_{req.name}"[:100]
    return task


# -- variables and extraction (only for steps that use them) ------------------------------------
def _quote_path_value(value: str) -> str:
    return quote(value, safe="/")


class TemplatedStep:
    """A step whose path, query values, header values or body hold ``${name}``, or that
    extracts: its templates are compiled once here, and each call renders them."""

    def __init__(self, step: protocol.StepSpec, base_headers: dict[str, str], extra: dict[str, Any]) -> None:
        static = _step_request(step, base_headers)
        self.method, self.name, self.extra = static.method, static.name, extra
        self.expect = static.expect
        self.path = sv.compile_template(_absolute(step.path))
        self.query = [
            (k, sv.compile_template(str(v)))
            for k, value in step.query.items()
            for v in (value if isinstance(value, list) else [value])
        ]
        templated = {k for k, v in step.headers.items() if sv.has_template(v)}
        self.headers = {k: v for k, v in static.headers.items() if k not in templated}
        self.header_templates = [(k, sv.compile_template(step.headers[k])) for k in templated]
        self.data = static.data
        templated_body = static.data is not None and sv.has_template(step.body)
        self.body = sv.compile_template(step.body) if templated_body else None
        rules = [{"var": r.var, "source": r.source, "expr": r.expr} for r in step.extract]
        self.extractor = sv.Extractor(rules) if rules else None
        self.context = {EXPECT_KEY: self.expect}
        self.names = sv.step_names_used(step.as_dict())

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


def _uses_variables(step: protocol.StepSpec) -> bool:
    return bool(step.extract) or any(sv.has_template(t) for _, t in sv.step_template_texts(step.as_dict()))


def _check_variables(scenario: protocol.ScenarioSpec) -> None:
    names = [c for src in scenario.sources for c in src.columns]
    if scenario.mode != "sequence" and any(step.extract for step in scenario.steps):
        raise ValueError("steps extract values, which needs the scenario's sequence mode")
    steps = [step.as_dict() for step in scenario.steps]
    for index, missing in sv.undefined_variables(mode=scenario.mode, source_names=names, steps=steps):
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
