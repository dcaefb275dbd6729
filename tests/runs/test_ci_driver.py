"""runs.core.ci.driver without Django: exit codes, JUnit XML, progress lines and the waiting loop.

The loop is driven by a scripted source (the RunSource interface a remote API client will
implement too) and a fake clock, so no test waits.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, cast

import pytest

from runs.core.ci.driver import (
    CiError,
    RunResult,
    RunStatus,
    ci_drive,
    exit_code,
    format_progress,
    junit_xml,
    run_error,
)


def _result(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 7,
        "url": "/runs/7/",
        "plan": "Checkout",
        "status": "finished",
        "error_message": "",
        "duration_seconds": 30.2,
        "requests": 4500,
        "failures": 9,
        "rps": 150.0,
        "p50_ms": 40.0,
        "p95_ms": 61.25,
        "p99_ms": 80.0,
        "max_ms": 120.0,
        "passed": True,
        "threshold_count": 0,
        "thresholds": [],
    }
    return base | extra


def _verdict(label: str, verdict: str, observed: float | None = 61.25, note: str = "") -> dict[str, Any]:
    return {
        "label": label,
        "metric": "p95",
        "op": "<",
        "value": 500.0,
        "unit": "ms",
        "observed": observed,
        "verdict": verdict,
        "note": note,
        "aborted": False,
    }


PASSING = [_verdict("p95 < 500 ms", "passed")]
FAILING = [
    _verdict("p95 < 500 ms", "passed"),
    _verdict("p99 < 1 ms", "failed", 80.0),
    _verdict("GET /x: p95 < 5 ms", "not_evaluable", None, "no request to this endpoint"),
]


@pytest.mark.parametrize(
    ("result", "timed_out", "code"),
    [
        (_result(), False, 0),  # no thresholds
        (_result(threshold_count=1, thresholds=PASSING, passed=True), False, 0),
        (_result(threshold_count=3, thresholds=FAILING, passed=False), False, 1),
        (_result(status="failed", error_message="The worker was lost"), False, 2),
        (_result(status="cancelled"), False, 2),
        (_result(threshold_count=1, thresholds=PASSING, passed=True), True, 2),
        (_result(threshold_count=2, thresholds=[], passed=False), False, 2),  # verdicts missing
        (None, False, 2),
    ],
)
def test_exit_codes(result: dict[str, Any] | None, timed_out: bool, code: int) -> None:
    assert exit_code(result, timed_out=timed_out) == code


def test_an_aborted_run_is_finished_and_failed_so_it_exits_1() -> None:
    aborted = _verdict("p95 < 1 ms abort 2s", "failed", 50.0, "aborted the run: crossed for 2 s in a row")
    result = _result(
        threshold_count=1,
        thresholds=[aborted],
        passed=False,
        error_message="Aborted: p95 < 1 ms crossed for 2 s",
    )
    assert run_error(result) == ""
    assert exit_code(result) == 1


def test_junit_has_a_testcase_for_the_run_and_one_per_threshold_with_failures_counted() -> None:
    hostile = _verdict("GET <x>&\x01: p95 < 5 ms", "failed", 9.0)
    text = junit_xml(_result(threshold_count=4, thresholds=[*FAILING, hostile], passed=False))
    root = ET.fromstring(text.encode())
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("5", "3", "0")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [
        "run #7 completes",
        "p95 < 500 ms",
        "p99 < 1 ms",
        "GET /x: p95 < 5 ms",
        "GET <x>&?: p95 < 5 ms",
    ]
    assert cases[0].find("error") is None and cases[1].find("failure") is None
    failure = cases[2].find("failure")
    assert failure is not None and failure.get("message") == "observed 80 ms, limit < 500 ms"
    assert cases[3].find("failure").get("message") == "not evaluable: no request to this endpoint"  # type: ignore[union-attr]
    assert cases[0].get("classname") == "scaletest.Checkout"


def test_junit_marks_the_run_testcase_as_an_error_when_the_run_failed() -> None:
    result = _result(status="failed", error_message="The load generator failed: boom")
    root = ET.fromstring(junit_xml(result, error=run_error(result)).encode())
    suite = root.find("testsuite")
    assert suite is not None and suite.get("errors") == "1" and suite.get("tests") == "1"
    error = suite.find("testcase/error")
    assert (
        error is not None and error.get("message") == "the run ended failed: The load generator failed: boom"
    )
    # No result at all (the run never started): still a valid report.
    empty = ET.fromstring(junit_xml(None, plan="P", error="refused").encode())
    assert empty.find("testsuite/testcase/error").get("message") == "refused"  # type: ignore[union-attr]


def test_progress_line_shows_t_users_rps_p95_and_errors() -> None:
    line = format_progress(
        {
            "status": "running",
            "t": 14,
            "planned_seconds": 30,
            "users": 10,
            "rps": 153,
            "p95_ms": 61.25,
            "requests": 2000,
            "failures": 3,
        }
    )
    assert line == "[  14/30 s] running   users 10  rps 153.0  p95 61.2 ms  errors 3 (0.15%)"


class ScriptedSource:
    """A RunSource that reports the given statuses in turn, then ``final``."""

    def __init__(self, statuses: list[dict[str, Any]], final: dict[str, Any], refuse: str = "") -> None:
        self.statuses, self.final, self.refuse = statuses, final, refuse
        self.cancelled = False

    def start(self) -> dict[str, Any]:
        if self.refuse:
            raise CiError(self.refuse)
        return {"id": 7, "url": "/runs/7/"}

    def poll(self) -> RunStatus:
        # The scripted dicts have RunStatus's and RunResult's keys (built by _status and _result).
        return cast(RunStatus, self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0])

    def result(self) -> RunResult:
        return cast(RunResult, self.final)

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _status(t: int, active: bool = True) -> dict[str, Any]:
    return {
        "status": "running" if active else "finished",
        "active": active,
        "t": t,
        "planned_seconds": 10,
        "users": 2,
        "rps": 10.0,
        "p95_ms": 5.0,
        "requests": 10 * t,
        "failures": 0,
    }


def test_the_loop_prints_progress_every_interval_then_the_summary_and_writes_junit(tmp_path: Path) -> None:
    clock = FakeClock()
    source = ScriptedSource(
        [_status(t) for t in range(10)] + [_status(10, active=False)],
        _result(threshold_count=3, thresholds=FAILING, passed=False),
    )
    lines: list[str] = []
    junit = tmp_path / "out.xml"
    code = ci_drive(
        source,
        emit=lines.append,
        timeout=60,
        interval=5,
        junit_path=str(junit),
        clock=clock,
        sleep=clock.sleep,
    )
    assert code == 1
    progress = [line for line in lines if line.startswith("[")]
    assert [p.split("]")[0] for p in progress] == ["[   0/10 s", "[   5/10 s", "[  10/10 s"]
    assert any(line.startswith("p99 < 1 ms") and "FAILED" in line for line in lines)
    assert lines[-1] == "Result: FAILED (thresholds)"
    assert ET.parse(junit).getroot().find("testsuite").get("failures") == "2"  # type: ignore[union-attr]


def test_the_loop_cancels_the_run_on_timeout_and_exits_2() -> None:
    clock = FakeClock()
    source = ScriptedSource([_status(1)], _result(status="running", passed=None))
    lines: list[str] = []
    code = ci_drive(source, emit=lines.append, timeout=5, interval=1, clock=clock, sleep=clock.sleep)
    assert code == 2 and source.cancelled
    assert lines[-1] == "Result: ERROR (timed out after 5 s; the run was asked to stop)"


def test_a_refused_start_exits_2_with_the_reason(tmp_path: Path) -> None:
    lines: list[str] = []
    junit = tmp_path / "j.xml"
    code = ci_drive(
        ScriptedSource([], {}, refuse="The concurrent run cap (4) is reached."),
        emit=lines.append,
        timeout=5,
        junit_path=str(junit),
        plan="Checkout",
    )
    assert code == 2
    assert "Error: The concurrent run cap (4) is reached." in lines
    assert ET.parse(junit).getroot().find("testsuite").get("errors") == "1"  # type: ignore[union-attr]
