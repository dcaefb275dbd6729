"""Helpers for the engine tests: snapshots for a direct child, the target's own counts, waiting."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runs.core.engine import protocol

BASE_DIR = Path(__file__).resolve().parents[2]


def target_count(base_url: str, path: str) -> int:
    """Requests the demo target itself counted for ``path``."""
    with urllib.request.urlopen(f"{base_url}/__stats", timeout=5) as response:
        return int(json.load(response)["paths"].get(path, 0))


def wait_for(predicate: Callable[[], Any], *, timeout: float, interval: float = 0.1, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(interval)


def snapshot(
    base_url: str,
    path: str,
    *,
    users: int = 2,
    duration: int = 3,
    query: dict[str, str] | None = None,
    method: str = "GET",
    expected: str = "200-299",
    user_class: str = "fast",
    body_type: str = "none",
    body: str = "",
    stop_timeout: float = 1.5,
    timeout_seconds: float = 5.0,
    auth: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The first stdin line of a child, as the runner builds it from ``plan_snapshot``."""
    return {
        "version": 1,
        "target": {
            "base_url": base_url,
            "headers": {"X-Test": "1"},
            "verify_tls": True,
            "timeout_seconds": timeout_seconds,
            **(auth or {"auth_type": "none"}),
        },
        "scenario": {
            "user_class": user_class,
            "think_time_min": 0,
            "think_time_max": 0,
            "steps": [
                {
                    "name": path,
                    "method": method,
                    "path": path,
                    "query": query or {},
                    "headers": {},
                    "body_type": body_type,
                    "body": body,
                    "weight": 1,
                    "expected_statuses": expected,
                }
            ],
        },
        "profile": {"kind": "constant", "params": {"users": users, "duration": duration}},
        "engine": {"stop_timeout": stop_timeout},
    }


class Child:
    """A Locust child started directly (no Django), with its stdout parsed line by line."""

    def __init__(self, first_line: dict[str, Any] | str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "runs.core.engine.child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=str(BASE_DIR),
        )
        text = first_line if isinstance(first_line, str) else json.dumps(first_line)
        self.send(text.encode() + b"\n")
        self.messages: list[protocol.Message] = []

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    def next_message(self) -> protocol.Message | None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            return None
        message = protocol.parse_line(line)
        self.messages.append(message)
        return message

    def read_all(self, timeout: float = 30) -> list[protocol.Message]:
        deadline = time.monotonic() + timeout
        while self.next_message() is not None:
            assert time.monotonic() < deadline, "the child kept talking past the timeout"
        self.proc.wait(timeout=10)
        return self.messages

    def seconds(self) -> list[protocol.SecondMessage]:
        return [m for m in self.messages if isinstance(m, protocol.SecondMessage)]

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read().decode(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
