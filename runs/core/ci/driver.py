"""Wait for a run, print its progress, judge it: the CI side of ScaleTest, with no Django.

A :class:`RunSource` starts one run and reports on it as plain JSON-friendly dicts, so the same
driver works on this installation's database (``runs.services.ci.LocalRunSource``) or on a remote
server's REST API (a source that GETs the same dicts). The dict shapes:

``start()`` -> ``{"id": int, "url": str, "planned_seconds": float}`` (raises :class:`CiError` with a
message when refused; ``planned_seconds`` is optional and sets the default timeout)

``poll()`` -> :class:`RunStatus`::

    {"id": 12, "status": "running", "active": true, "t": 14, "planned_seconds": 30.0,
     "users": 10, "rps": 153.0, "p95_ms": 61.2, "requests": 2100, "failures": 3}

``result()`` -> :class:`RunResult` (once ``active`` is false; also read after a timeout)::

    {"id": 12, "url": "/runs/12/", "plan": "Checkout", "status": "finished", "error_message": "",
     "duration_seconds": 30.4, "requests": 4600, "failures": 3, "rps": 150.9, "p50_ms": 40.1,
     "p95_ms": 61.2, "p99_ms": 80.3, "max_ms": 120.0, "passed": false, "threshold_count": 2,
     "thresholds": [{"label": "p95 < 500 ms", "metric": "p95", "op": "<", "value": 500.0,
                     "unit": "ms", "observed": 61.2, "verdict": "passed", "note": "",
                     "aborted": false}, ...]}

``thresholds`` holds ``runs.core.thresholds.evaluate``'s verdicts (``passed``, ``failed`` or
``not_evaluable``); ``threshold_count`` is how many the run was started with, so a run whose
verdicts are missing is an error, never a silent pass.

``cancel()`` asks the run to stop (used on a timeout).

A capacity search (a "find capacity" profile) adds ``"capacity"`` to the result::

    "capacity": {"low": 11.0, "high": 14.0, "unit": "users", "status": "found",
                 "answer": "Capacity: 11 users / 476 req/s ...", "baseline_run": 9,
                 "baseline_low": 12.0}

and a :class:`CapacityGate` (``--min-capacity N``, ``--max-capacity-drop PCT``) turns it into
checks: the run fails (exit 1, a failing JUnit case each) when its capacity is below N, or below
the plan's baseline search's capacity by more than PCT percent. A gate on a run that is no
capacity search, or a drop gate without a baseline search, is an error (exit 2).

Exit codes (:func:`exit_code`): 0 passed or no thresholds, 1 thresholds (or a capacity gate)
failed, 2 error (the run could not start, failed, was cancelled or timed out, or its thresholds
or capacity gate could not be evaluated).
"""

from __future__ import annotations

import datetime as dt
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict

EXIT_PASSED, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
POLL_SECONDS = 1.0
# Without a timeout: the planned duration plus this much (queueing, stop grace, the last results).
TIMEOUT_ALLOWANCE_SECONDS = 180.0


class CiError(Exception):
    """The run could not be started or followed; the message is for the CI log."""


class RunStatus(TypedDict, total=False):
    id: int
    status: str
    active: bool
    t: int
    planned_seconds: float
    users: int
    rps: float
    p95_ms: float | None
    requests: int
    failures: int


class RunResult(TypedDict, total=False):
    id: int
    url: str
    plan: str
    status: str
    error_message: str
    duration_seconds: float | None
    requests: int
    failures: int
    rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    passed: bool | None
    threshold_count: int
    thresholds: list[dict[str, Any]]
    capacity: dict[str, Any] | None


@dataclass(frozen=True)
class CapacityGate:
    """Pass/fail on a capacity search's result: at least ``minimum`` (in the search's unit), and
    at most ``max_drop_percent`` below the plan's baseline search."""

    minimum: float | None = None
    max_drop_percent: float | None = None

    @property
    def active(self) -> bool:
        return self.minimum is not None or self.max_drop_percent is not None


def capacity_checks(result: Mapping[str, Any], gate: CapacityGate) -> list[dict[str, Any]]:
    """One check per gate: ``{"label", "passed", "message"}``. Call after :func:`gate_error`."""
    cap = result.get("capacity") or {}
    unit = str(cap.get("unit") or "")
    low = cap.get("low")
    shown = "none found" if low is None else f"{float(low):g} {unit}"
    checks = []
    if gate.minimum is not None:
        passed = low is not None and float(low) >= gate.minimum
        checks.append(
            {
                "label": f"capacity >= {gate.minimum:g} {unit}",
                "passed": passed,
                "message": f"capacity {shown}, required at least {gate.minimum:g} {unit}",
            }
        )
    if gate.max_drop_percent is not None:
        base = float(cap["baseline_low"])
        floor = base * (1.0 - gate.max_drop_percent / 100.0)
        passed = low is not None and float(low) >= floor
        change = "" if low is None else f" ({float(low) / base - 1.0:+.0%})"
        checks.append(
            {
                "label": (
                    f"capacity within {gate.max_drop_percent:g}% of baseline run #{cap.get('baseline_run')}"
                ),
                "passed": passed,
                "message": f"capacity {shown}{change} against the baseline's {base:g} {unit}; "
                f"the floor is {floor:g} {unit}",
            }
        )
    return checks


def gate_error(result: Mapping[str, Any] | None, gate: CapacityGate) -> str:
    """Why the capacity gate cannot judge the run ("" when it can, or without a gate)."""
    if not gate.active or result is None:
        return ""
    cap = result.get("capacity")
    if not cap:
        return "a capacity gate needs a run of a capacity-search (find capacity) profile"
    if gate.max_drop_percent is not None and cap.get("baseline_low") is None:
        return "--max-capacity-drop needs a plan baseline that is a capacity search which found a capacity"
    return ""


class RunSource(Protocol):
    def start(self) -> dict[str, Any]: ...

    def poll(self) -> RunStatus: ...

    def result(self) -> RunResult: ...

    def cancel(self) -> None: ...


# -- pure formatting and judging -----------------------------------------------------------------
def _ms(value: Any) -> str:
    return "–" if value is None else f"{float(value):.1f} ms"


def _pct(failures: int, requests: int) -> float:
    return 100.0 * failures / requests if requests else 0.0


def format_progress(status: Mapping[str, Any]) -> str:
    """One progress line: ``[  14/30 s] running  users 10  rps 153.0  p95 61.2 ms  errors 3 (0.14%)``."""
    planned = status.get("planned_seconds") or 0
    t = max(int(status.get("t") or 0), 0)
    failures, requests = int(status.get("failures") or 0), int(status.get("requests") or 0)
    return (
        f"[{t:>4}/{planned:.0f} s] {status.get('status', '?'):<9} users {status.get('users', 0)}  "
        f"rps {float(status.get('rps') or 0):.1f}  p95 {_ms(status.get('p95_ms'))}  "
        f"errors {failures} ({_pct(failures, requests):.2f}%)"
    )


def _value(item: Mapping[str, Any], key: str) -> str:
    value = item.get(key)
    if value is None:
        return "–"
    unit = item.get("unit") or ""
    if unit == "%":
        return f"{float(value):.4g}%"
    return f"{float(value):.6g} {unit}".rstrip()


def format_threshold_table(result: Mapping[str, Any]) -> list[str]:
    rows = [("threshold", "observed", "limit", "verdict")]
    for item in result.get("thresholds") or []:
        verdict = str(item.get("verdict", "")).replace("_", " ").upper()
        if item.get("note"):
            verdict += f" ({item['note']})"
        rows.append(
            (
                str(item.get("label", "")),
                _value(item, "observed"),
                f"{item.get('op', '')} {_value(item, 'value')}",
                verdict,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return [f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}" for r in rows]


def format_summary(result: Mapping[str, Any]) -> list[str]:
    requests, failures = int(result.get("requests") or 0), int(result.get("failures") or 0)
    duration = result.get("duration_seconds")
    lines = [
        f"Run #{result.get('id')} of “{result.get('plan', '')}”: {result.get('status')}"
        + (f" ({result['url']})" if result.get("url") else ""),
        f"  duration {'–' if duration is None else f'{float(duration):.1f} s'}  requests {requests}  "
        f"failures {failures} ({_pct(failures, requests):.2f}%)  rps {float(result.get('rps') or 0):.1f}",
        f"  p50 {_ms(result.get('p50_ms'))}  p95 {_ms(result.get('p95_ms'))}  "
        f"p99 {_ms(result.get('p99_ms'))}  max {_ms(result.get('max_ms'))}",
    ]
    if result.get("error_message"):
        lines += ["  " + line for line in str(result["error_message"]).splitlines()]
    return lines


def run_error(result: Mapping[str, Any] | None, *, timed_out: bool = False, timeout: float = 0) -> str:
    """Why the run counts as an error (exit 2), or "" when it does not."""
    if result is None:
        return "the run did not start"
    if timed_out:
        return f"timed out after {timeout:.0f} s; the run was asked to stop"
    status = result.get("status")
    if status != "finished":
        message = str(result.get("error_message") or "").strip().splitlines()
        return f"the run ended {status}" + (f": {message[0]}" if message else "")
    count = int(result.get("threshold_count") or 0)
    if count and (len(result.get("thresholds") or []) != count or result.get("passed") is None):
        return "the run's thresholds could not be evaluated"
    return ""


def exit_code(
    result: Mapping[str, Any] | None, *, timed_out: bool = False, gate: CapacityGate | None = None
) -> int:
    gate = gate or CapacityGate()
    if run_error(result, timed_out=timed_out) or gate_error(result, gate):
        return EXIT_ERROR
    assert result is not None
    if result.get("passed") is False or not all(c["passed"] for c in capacity_checks(result, gate)):
        return EXIT_FAILED
    return EXIT_PASSED


_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(text: Any) -> str:
    """Text XML 1.0 can carry (ElementTree escapes markup, not control characters)."""
    return _XML_BAD.sub("?", "" if text is None else str(text))


def junit_xml(
    result: Mapping[str, Any] | None,
    *,
    plan: str = "",
    error: str = "",
    timestamp: dt.datetime | None = None,
    capacity: list[dict[str, Any]] | None = None,
) -> str:
    """JUnit XML: one testcase for the run itself (an error when ``error``), then one per
    threshold (a failure when it failed or was not evaluable), then one per capacity check."""
    result = result or {}
    plan = plan or str(result.get("plan") or "")
    classname = _x(f"scaletest.{plan}" if plan else "scaletest")
    thresholds = list(result.get("thresholds") or [])
    capacity = list(capacity or [])
    failed = [t for t in thresholds if t.get("verdict") != "passed"] + [
        c for c in capacity if not c["passed"]
    ]
    duration = float(result.get("duration_seconds") or 0.0)
    suite = ET.Element(
        "testsuite",
        {
            "name": _x(f"ScaleTest: {plan}" + (f" run #{result['id']}" if result.get("id") else "")),
            "tests": str(1 + len(thresholds) + len(capacity)),
            "failures": str(len(failed)),
            "errors": "1" if error else "0",
            "skipped": "0",
            "time": f"{duration:.3f}",
            "timestamp": (timestamp or dt.datetime.now(dt.UTC)).replace(microsecond=0).isoformat(),
        },
    )
    run_case = ET.SubElement(
        suite,
        "testcase",
        {
            "classname": classname,
            "name": _x(f"run #{result.get('id', '-')} completes"),
            "time": f"{duration:.3f}",
        },
    )
    if error:
        node = ET.SubElement(run_case, "error", {"message": _x(error), "type": "RunError"})
        node.text = _x(result.get("error_message") or error)
    for item in thresholds:
        case = ET.SubElement(
            suite, "testcase", {"classname": classname, "name": _x(item.get("label")), "time": "0"}
        )
        if item.get("verdict") == "passed":
            continue
        observed, limit = _value(item, "observed"), f"{item.get('op', '')} {_value(item, 'value')}"
        if item.get("verdict") == "failed":
            message = f"observed {observed}, limit {limit}"
        else:
            message = f"not evaluable: {item.get('note') or 'no data'}"
        if item.get("note") and item.get("verdict") == "failed":
            message += f" ({item['note']})"
        node = ET.SubElement(case, "failure", {"message": _x(message), "type": str(item.get("verdict"))})
        node.text = _x(message)
    for check in capacity:
        case = ET.SubElement(
            suite, "testcase", {"classname": classname, "name": _x(check["label"]), "time": "0"}
        )
        if not check["passed"]:
            node = ET.SubElement(case, "failure", {"message": _x(check["message"]), "type": "capacity"})
            node.text = _x(check["message"])
    root = ET.Element(
        "testsuites",
        {
            "name": "scaletest",
            "tests": suite.get("tests", "0"),
            "failures": suite.get("failures", "0"),
            "errors": suite.get("errors", "0"),
            "time": suite.get("time", "0"),
        },
    )
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# -- the loop ------------------------------------------------------------------------------------
def ci_drive(
    source: RunSource,
    *,
    emit: Callable[[str], None],
    timeout: float | None,
    interval: float = 5.0,
    junit_path: str | None = None,
    plan: str = "",
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    gate: CapacityGate | None = None,
) -> int:
    """Start a run through ``source``, print progress every ``interval`` s until it ends (or
    ``timeout`` s pass: it is then cancelled), print the summary and thresholds, write the JUnit
    file and return the exit code. ``timeout=None``: the planned duration ``start()`` reports
    plus :data:`TIMEOUT_ALLOWANCE_SECONDS`."""
    result: RunResult | None = None
    timed_out = False
    try:
        started = source.start()
        emit(f"Started run #{started.get('id')}" + (f" ({started['url']})" if started.get("url") else ""))
        if timeout is None:
            timeout = float(started.get("planned_seconds") or 0) + TIMEOUT_ALLOWANCE_SECONDS
        began = clock()
        last_print = None
        while True:
            status = source.poll()
            now = clock()
            if last_print is None or now - last_print >= interval or not status.get("active"):
                emit(format_progress(status))
                last_print = now
            if not status.get("active"):
                break
            if now - began > timeout:
                timed_out = True
                emit(f"Timed out after {timeout:.0f} s: cancelling the run.")
                source.cancel()
                break
            sleep(min(POLL_SECONDS, interval))
        result = source.result()
    except CiError as exc:
        emit(f"Error: {exc}")
        return _finish(None, error=str(exc), timed_out=False, emit=emit, junit_path=junit_path, plan=plan)
    gate = gate or CapacityGate()
    error = run_error(result, timed_out=timed_out, timeout=timeout or 0) or gate_error(result, gate)
    return _finish(
        result, error=error, timed_out=timed_out, emit=emit, junit_path=junit_path, plan=plan, gate=gate
    )


def _finish(
    result: RunResult | None,
    *,
    error: str,
    timed_out: bool,
    emit: Callable[[str], None],
    junit_path: str | None,
    plan: str,
    gate: CapacityGate | None = None,
) -> int:
    gate = gate or CapacityGate()
    checks = capacity_checks(result, gate) if result is not None and not error else []
    if result is not None:
        for line in format_summary(result):
            emit(line)
        if result.get("thresholds"):
            emit("")
            for line in format_threshold_table(result):
                emit(line)
        capacity = result.get("capacity")
        if capacity:
            emit("")
            emit(str(capacity.get("answer") or ""))
        for check in checks:
            emit(f"{check['label']}: {'PASSED' if check['passed'] else 'FAILED'} ({check['message']})")
    code = EXIT_ERROR if error else exit_code(result, timed_out=timed_out, gate=gate)
    if junit_path:
        with open(junit_path, "w", encoding="utf-8") as fh:
            fh.write(junit_xml(result, plan=plan, error=error, capacity=checks))
        emit(f"JUnit report written to {junit_path}")
    failed_what = "capacity" if result is not None and result.get("passed") is not False else "thresholds"
    verdict = {EXIT_PASSED: "PASSED", EXIT_FAILED: f"FAILED ({failed_what})", EXIT_ERROR: f"ERROR ({error})"}[
        code
    ]
    emit(f"Result: {verdict}")
    return code
