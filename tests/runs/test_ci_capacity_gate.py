"""The CI capacity gate, pure: checks, errors, exit codes and JUnit cases from result dicts."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from runs.core.ci.driver import (
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_PASSED,
    CapacityGate,
    capacity_checks,
    exit_code,
    gate_error,
    junit_xml,
)


def result(**capacity: Any) -> dict[str, Any]:
    cap = {"low": 11.0, "high": 14.0, "unit": "users", "status": "found", "answer": "Capacity: 11 users"}
    cap.update(capacity)
    return {
        "id": 3,
        "status": "finished",
        "passed": None,
        "threshold_count": 0,
        "thresholds": [],
        "capacity": cap,
    }


def test_a_capacity_below_the_minimum_fails_with_its_numbers() -> None:
    gate = CapacityGate(minimum=12)
    checks = capacity_checks(result(), gate)
    assert checks == [
        {
            "label": "capacity >= 12 users",
            "passed": False,
            "message": "capacity 11 users, required at least 12 users",
        }
    ]
    assert exit_code(result(), gate=gate) == EXIT_FAILED
    assert exit_code(result(), gate=CapacityGate(minimum=11)) == EXIT_PASSED


def test_a_drop_beyond_the_margin_against_the_baseline_fails() -> None:
    gate = CapacityGate(max_drop_percent=10)
    dropped = result(low=8.0, baseline_low=10.0, baseline_run=7)
    (check,) = capacity_checks(dropped, gate)
    assert check["label"] == "capacity within 10% of baseline run #7"
    assert not check["passed"]
    assert check["message"] == "capacity 8 users (-20%) against the baseline's 10 users; the floor is 9 users"
    assert exit_code(dropped, gate=gate) == EXIT_FAILED
    assert exit_code(result(low=9.5, baseline_low=10.0, baseline_run=7), gate=gate) == EXIT_PASSED


def test_no_capacity_found_fails_the_minimum() -> None:
    (check,) = capacity_checks(result(low=None, status="below_start"), CapacityGate(minimum=1))
    assert not check["passed"] and check["message"].startswith("capacity none found")


def test_a_gate_that_cannot_judge_is_an_error() -> None:
    plain = {
        "id": 3,
        "status": "finished",
        "passed": True,
        "threshold_count": 0,
        "thresholds": [],
        "capacity": None,
    }
    assert "capacity-search" in gate_error(plain, CapacityGate(minimum=5))
    assert exit_code(plain, gate=CapacityGate(minimum=5)) == EXIT_ERROR
    assert exit_code(plain) == EXIT_PASSED  # no gate: nothing asked of the capacity
    no_baseline = result(baseline_low=None)
    assert "baseline" in gate_error(no_baseline, CapacityGate(max_drop_percent=5))


def test_each_capacity_check_is_a_junit_case() -> None:
    gate = CapacityGate(minimum=12, max_drop_percent=50)
    res = result(baseline_low=12.0, baseline_run=2)
    suite = ET.fromstring(junit_xml(res, plan="Find", capacity=capacity_checks(res, gate))).find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("3", "1")
    cases = {c.get("name"): c.find("failure") for c in suite.findall("testcase")}
    failure = cases["capacity >= 12 users"]
    assert failure is not None and failure.get("message") == "capacity 11 users, required at least 12 users"
    assert cases["capacity within 50% of baseline run #2"] is None
