"""Remote CI end to end: ``python3 -m runs.ci`` (the system Python, Django not importable) and
``manage.py ci_run --server`` against the test suite's live server, with a real worker and
Locust child on the demo target; exit codes, JUnit reports and the refusals' messages."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from runs.core.ci.remote import RemoteRunSource
from runs.models import Run
from runs.services.api_tokens import api_token_create
from runs.services.ci import run_result_payload, run_status_payload
from tests.conftest import BASE_DIR
from tests.engine.test_ci_run import _ci_run, _plan

# CI machines have a plain Python: the system one (3.11, no Django) when there is one. In any
# case Django is made unimportable, so an import of it anywhere in runs.ci fails the test.
SYSTEM_PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
NO_DJANGO = (
    "import sys; sys.modules['django'] = None; import runpy; "
    "runpy.run_module('runs.ci', run_name='__main__', alter_sys=True)"
)


def _remote(*args: str, token: str | None = None, no_django: bool = True) -> subprocess.CompletedProcess[str]:
    """``python3 -m runs.ci …`` from the repository root, isolated from this environment (-E -s, a
    minimal env: no PYTHONPATH, no virtualenv), the token in SCALETEST_API_TOKEN."""
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    if token is not None:
        env["SCALETEST_API_TOKEN"] = token
    start = ["-c", NO_DJANGO] if no_django else ["-m", "runs.ci"]
    return subprocess.run(
        [SYSTEM_PYTHON, "-E", "-s", *start, *args],
        cwd=str(BASE_DIR),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _suite(path: Path) -> ET.Element:
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    return suite


def test_the_ci_package_needs_no_django() -> None:
    assert (
        subprocess.run(
            [SYSTEM_PYTHON, "-E", "-s", "-c", "import django"],
            env={"PATH": "/usr/bin:/bin"},
            capture_output=True,
        ).returncode
        != 0
        or SYSTEM_PYTHON == sys.executable
    )
    done = subprocess.run(
        [
            SYSTEM_PYTHON,
            "-E",
            "-s",
            "-c",
            "import sys; sys.modules['django'] = None; "
            "import runs.ci, runs.core.ci.driver, runs.core.ci.remote; print('ok')",
        ],
        cwd=str(BASE_DIR),
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert done.stdout.strip() == "ok", done.stderr


@pytest.mark.slow
def test_remote_run_exits_0_when_thresholds_pass_and_1_when_impossible(
    transactional_db: None,
    live_worker: Any,
    target_server: str,
    make_plan: Any,
    alice: Any,
    live_server: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = api_token_create(user=alice, name="ci")[1]
    passing = _plan(
        make_plan, target_server, "p95 < 5000\nerror_rate < 1%\nGET /delay: rps >= 1", "Remote pass"
    )
    junit = tmp_path / "pass.xml"

    done = _remote(
        "--server",
        live_server.url,
        "--plan",
        "Remote pass",
        "--interval",
        "1",
        "--junit-xml",
        str(junit),
        "--run-version",
        "abc123",
        "--tag",
        "nightly",
        token=token,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    run = Run.objects.get(plan=passing)
    assert run.created_by == alice and run.status == Run.Status.FINISHED and run.passed is True
    assert (run.trigger, run.version, run.tags) == ("ci", "abc123", ["nightly"])
    assert f"Started run #{run.pk} ({live_server.url}/runs/{run.pk}/)" in done.stdout
    assert "users" in done.stdout and "p95" in done.stdout and "Result: PASSED" in done.stdout
    assert token not in done.stdout + done.stderr
    suite = _suite(junit)
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "0", "0")

    # manage.py ci_run --server, by id, the token from the environment.
    failing = _plan(make_plan, target_server, "p95 < 5000\np50 < 0.001\nrps >= 100000", "Remote fail")
    junit = tmp_path / "fail.xml"
    monkeypatch.setenv("SCALETEST_API_TOKEN", token)

    code, output = _ci_run(
        str(failing.pk), "--server", live_server.url, "--interval", "1", "--junit-xml", str(junit)
    )

    assert code == 1, output
    assert "Result: FAILED (thresholds)" in output
    suite = _suite(junit)
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "2", "0")
    failed = [c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None]
    assert failed == ["p50 < 0.001 ms", "rps >= 100000 req/s"]
    run = Run.objects.get(plan=failing)
    assert run.passed is False
    # Remote and local read the same dicts (the run page's address made absolute).
    source = RemoteRunSource(server=live_server.url, token=token, plan=str(failing.pk))
    source.run_id = run.pk
    assert source.poll() == run_status_payload(run=run)
    assert source.result() == {**run_result_payload(run=run), "url": f"{live_server.url}/runs/{run.pk}/"}


def test_remote_refusals_exit_2_with_a_clear_message_and_start_nothing(
    transactional_db: None, make_plan: Any, alice: Any, carol: Any, live_server: Any, tmp_path: Path
) -> None:
    token = api_token_create(user=alice, name="ci")[1]
    plan = make_plan("http://127.0.0.1:9", "/", name="Mine")
    junit = tmp_path / "bad.xml"

    done = _remote(
        "--server",
        live_server.url,
        "--plan",
        "Mine",
        "--junit-xml",
        str(junit),
        token="st_not-a-real-token",
        no_django=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"Error: {live_server.url} refused the API token" in done.stdout
    assert "check --token or SCALETEST_API_TOKEN" in done.stdout and "st_not-a-real-token" not in done.stdout
    assert _suite(junit).get("errors") == "1"

    done = _remote("--server", live_server.url, "--plan", "Mine", "--junit-xml", str(junit))
    assert done.returncode == 2 and "no API token: give --token or set SCALETEST_API_TOKEN" in done.stdout

    for ref in ("No such plan", "999999"):
        done = _remote("--server", live_server.url, "--plan", ref, token=token)
        assert done.returncode == 2, done.stdout
        assert f"no test plan you may see on {live_server.url} has the id or name “{ref}”" in done.stdout
    # Carol's token: alice's plan is not hers to see, by name or id.
    carols = api_token_create(user=carol, name="ci")[1]
    code, output = _ci_run(str(plan.pk), "--server", live_server.url, "--token", carols)
    assert code == 2 and "no test plan you may see" in output
    code, output = _ci_run("Mine", "--server", live_server.url, "--token", token, "--user", "alice")
    assert code == 2 and "--user is for local runs" in output
    code, output = _ci_run("Mine", "--token", token)
    assert code == 2 and "--token goes with --server" in output

    done = _remote("--server", "http://127.0.0.1:9", "--plan", "Mine", token=token)
    assert done.returncode == 2 and "Error: cannot reach http://127.0.0.1:9" in done.stdout
    done = _remote("--server", "127.0.0.1:8000", "--plan", "Mine", token=token)
    assert done.returncode == 2 and "--server must be the server's http:// or https:// address" in done.stdout
    assert not Run.objects.exists()
