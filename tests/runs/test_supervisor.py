"""runs.core.supervisor: the restart policy (pure) and the supervisor on real, tiny processes.

`manage.py up` under real SIGKILLs is tests/test_up_supervision.py; these pin the rules it
relies on: the backoff sequence, giving up on a program that never stays up, killing what is
left of a dead program's process group, and stopping a program that ignores SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psutil

from runs.core.supervisor import Backoff, Program, RestartPolicy, Supervisor, describe_exit
from tests.proctree import alive, wait_for, wait_gone


def test_the_backoff_doubles_up_to_its_cap_and_gives_up_on_a_program_that_never_stays_up() -> None:
    backoff = Backoff(RestartPolicy(first_delay=1, max_delay=5, stable_after=60, give_up_after=6))
    assert [backoff.after_exit(ran_for=2) for _ in range(5)] == [1, 2, 4, 5, 5]
    assert backoff.after_exit(ran_for=2) is None


def test_by_default_a_crashing_program_is_tried_for_about_a_minute_and_a_half_then_given_up() -> None:
    backoff = Backoff()  # what `up` uses (README, "Processes and supervision")
    delays = [backoff.after_exit(ran_for=5) for _ in range(8)]
    assert delays == [1, 2, 4, 8, 16, 30, 30, None]


def test_a_program_that_stayed_up_starts_again_from_the_first_delay() -> None:
    backoff = Backoff(RestartPolicy(first_delay=1, max_delay=30, stable_after=60, give_up_after=6))
    assert [backoff.after_exit(ran_for=1) for _ in range(4)] == [1, 2, 4, 8]
    assert backoff.after_exit(ran_for=3600) == 1
    assert backoff.after_exit(ran_for=1) == 2


def test_exits_are_described_by_signal_name_or_exit_code() -> None:
    assert describe_exit(-9) == "-9 (SIGKILL)"
    assert describe_exit(-15) == "-15 (SIGTERM)"
    assert describe_exit(1) == "code 1"
    assert describe_exit(0) == "code 0"


class Running:
    """A Supervisor looping in a thread of the test, with its log lines collected."""

    def __init__(self, programs: list[Program], policy: RestartPolicy, stop_timeout: float = 5.0) -> None:
        self.lines: list[str] = []
        self.supervisor = Supervisor(
            programs, log=self.lines.append, policy=policy, stop_timeout=stop_timeout
        )
        self.result: list[str | None] = []
        self.supervisor.start_all()
        self.thread = threading.Thread(target=lambda: self.result.append(self.supervisor.run()), daemon=True)
        self.thread.start()

    def stop(self) -> str | None:
        self.supervisor.request_stop()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()
        return self.result[0]


FAST = RestartPolicy(first_delay=0.1, max_delay=0.4, stable_after=60, give_up_after=4)


def test_a_killed_program_is_restarted_and_what_it_left_in_its_group_is_killed(tmp_path: Path) -> None:
    # The program (pid P) starts a helper that writes its pid and waits: same process group,
    # no parent-death signal of its own, so killing P alone would leave it as an orphan.
    script = (
        "import os, subprocess, sys, time\n"
        "helper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
        f"open({str(tmp_path / 'helper')!r} + str(os.getpid()), 'w').write(str(helper.pid))\n"
        "time.sleep(300)\n"
    )
    program = Program("sleeper", [sys.executable, "-c", script])
    running = Running([program], FAST)
    try:

        def with_helper() -> subprocess.Popen[bytes] | None:
            proc = program.proc
            return proc if proc is not None and (tmp_path / f"helper{proc.pid}").exists() else None

        first = wait_for(with_helper, 30, "the program and its helper")
        helper = psutil.Process(int((tmp_path / f"helper{first.pid}").read_text()))
        os.kill(first.pid, signal.SIGKILL)
        wait_gone([helper], 10, "the helper left in the dead program's group")
        second = wait_for(
            lambda: program.proc is not None and program.proc.pid != first.pid and program.proc,
            10,
            "the restart",
        )
        assert running.lines == [
            "sleeper exited with -9 (SIGKILL); restarting in 0.1 s",
            f"sleeper restarted (pid {second.pid})",
        ]
        restarted = psutil.Process(second.pid)
    finally:
        assert running.stop() is None
    assert not alive(restarted)


def test_it_gives_up_and_says_why_when_a_program_keeps_failing() -> None:
    other = Program("bystander", [sys.executable, "-c", "import time; time.sleep(300)"])
    failing = Program("broken", [sys.executable, "-c", "import sys; sys.exit(3)"])
    running = Running([other, failing], FAST)
    running.thread.join(timeout=30)
    assert running.result == ["the broken exited with code 3, 4 times in a row"]
    assert running.lines[0::2] == [
        "broken exited with code 3; restarting in 0.1 s",
        "broken exited with code 3; restarting in 0.2 s",
        "broken exited with code 3; restarting in 0.4 s",
    ]
    assert len(running.lines) == 6
    assert all(line.startswith("broken restarted (pid ") for line in running.lines[1::2])
    assert other.proc is None  # everything was stopped


def test_stopping_kills_the_group_of_a_program_that_ignores_sigterm() -> None:
    deaf = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"
    stubborn = Program("stubborn", [sys.executable, "-c", deaf])
    running = Running([stubborn], FAST, stop_timeout=0.5)
    proc = wait_for(lambda: stubborn.proc, 10, "the program")
    leader = psutil.Process(proc.pid)
    assert running.stop() is None
    assert not alive(leader)
    assert "stubborn did not stop within 0.5 s; killing it" in running.lines
