"""``manage.py ci_run`` end to end: the run service, a real worker and Locust child, exit codes
and the JUnit report."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from runs.core.thresholds import parse_thresholds
from runs.models import Run


def _ci_run(*args: str) -> tuple[int, str]:
    from io import StringIO

    out, err = StringIO(), StringIO()
    with pytest.raises(SystemExit) as info:
        call_command("ci_run", *args, stdout=out, stderr=err)
    return int(info.value.code or 0), out.getvalue() + err.getvalue()


def _plan(make_plan: Any, target: str, text: str, name: str) -> Any:
    plan = make_plan(target, "/delay", query={"ms": "20"}, params={"users": 2, "duration": 3}, name=name)
    plan.thresholds = [t.to_dict() for t in parse_thresholds(text)]
    plan.save()
    return plan


@pytest.fixture
def root(transactional_db: None) -> Any:
    return get_user_model().objects.create_superuser("root", "root@example.com", "root-password-123")


@pytest.mark.slow
def test_ci_run_exits_0_when_the_thresholds_pass_and_1_when_one_fails(
    transactional_db: None, live_worker: Any, target_server: str, make_plan: Any, root: Any, tmp_path: Path
) -> None:
    passing = _plan(make_plan, target_server, "p95 < 5000\nerror_rate < 1%\nGET /delay: rps >= 1", "CI pass")
    junit = tmp_path / "pass.xml"

    code, output = _ci_run(str(passing.pk), "--interval", "1", "--junit-xml", str(junit), "--timeout", "60")

    assert code == 0, output
    assert "Result: PASSED" in output
    assert "users" in output and "rps" in output and "p95" in output  # progress lines
    run = Run.objects.get(plan=passing)
    assert run.created_by == root and run.status == Run.Status.FINISHED and run.passed is True
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "0", "0")

    failing = _plan(make_plan, target_server, "p95 < 5000\np50 < 0.001\nrps >= 100000", "CI fail")
    junit = tmp_path / "fail.xml"

    code, output = _ci_run("CI fail", "--junit-xml", str(junit), "--user", "root", "--interval", "1")

    assert code == 1, output
    assert "Result: FAILED (thresholds)" in output
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "2", "0")
    failed = [c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None]
    assert failed == ["p50 < 0.001 ms", "rps >= 100000 req/s"]
    assert Run.objects.get(plan=failing).passed is False


def test_ci_run_exits_2_for_an_unknown_plan_or_user_and_starts_nothing(
    db: None, make_plan: Any, carol: Any, victor: Any, tmp_path: Path
) -> None:
    junit = tmp_path / "bad.xml"
    code, output = _ci_run("no such plan", "--user", "alice", "--junit-xml", str(junit))
    assert code == 2 and "no test plan you may run has the id or name “no such plan”" in output
    assert ET.parse(junit).getroot().find("testsuite").get("errors") == "1"  # type: ignore[union-attr]

    plan = make_plan("http://127.0.0.1:9", "/a")
    code, output = _ci_run(str(plan.pk))
    assert code == 2 and "no superuser exists" in output
    code, output = _ci_run(str(plan.pk), "--user", "nobody")
    assert code == 2 and "no active user is named “nobody”" in output
    # Another team's plan, or a viewer of its team: the plan is not one they may run.
    for who in ("carol", "victor"):
        code, output = _ci_run(str(plan.pk), "--user", who)
        assert code == 2 and "no test plan you may run" in output, who
    assert not Run.objects.exists()


def test_ci_run_exits_2_when_the_service_refuses_the_run(
    db: None, make_plan: Any, root: Any, settings: Any
) -> None:
    # The same caps as the Start button: a profile above the users cap is refused, nothing runs.
    settings.SCALETEST_MAX_USERS = 5
    plan = make_plan("http://127.0.0.1:9", "/a", params={"users": 6, "duration": 3})
    code, output = _ci_run(str(plan.pk))
    assert code == 2, output
    assert "Error: The load profile is invalid" in output and "Result: ERROR" in output
    assert not Run.objects.exists()
