"""Walking the process table in tests: what a process started, and what is left after a kill."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from typing import Literal

import psutil


def alive(proc: psutil.Process) -> bool:
    """Running and not a zombie (a dead child its new parent has not reaped yet is gone for us)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def tree(proc: psutil.Process) -> list[psutil.Process]:
    """``proc`` and every live descendant, as the process table shows them now."""
    try:
        return [proc, *(p for p in proc.children(recursive=True) if alive(p))]
    except psutil.NoSuchProcess:
        return []


def describe(procs: Iterable[psutil.Process]) -> str:
    lines = []
    for proc in procs:
        try:
            lines.append(f"{proc.pid} (ppid {proc.ppid()}): {' '.join(proc.cmdline())[:200]}")
        except psutil.Error:
            lines.append(f"{proc.pid}: gone")
    return "\n".join(lines) or "(none)"


def with_env(name: str, value: str) -> list[psutil.Process]:
    """Live processes whose environment has ``name=value``: everything a test's process started,
    and everything those started in turn, since children inherit the environment."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(name) == value and alive(proc):
                found.append(proc)
        except psutil.Error:  # gone meanwhile, or not ours to read
            continue
    return found


def kill_all(procs: Iterable[psutil.Process]) -> None:
    """SIGKILL each (cleanup after a test that may have failed with orphans about)."""
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.kill()


def wait_for[T](
    predicate: Callable[[], T | None | Literal[False]], seconds: float, what: str | Callable[[], str]
) -> T:
    """The predicate's first truthy value (None and False mean "not yet")."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            described = what() if callable(what) else what
            raise AssertionError(f"timed out after {seconds:g} s waiting for {described}")
        time.sleep(0.2)


def wait_gone(procs: list[psutil.Process], seconds: float, what: str) -> None:
    wait_for(
        lambda: not any(alive(p) for p in procs),
        seconds,
        lambda: f"{what}; still running:\n{describe(p for p in procs if alive(p))}",
    )
