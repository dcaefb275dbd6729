"""Start calls at the same instant in threads, each with its own database connection.

For the races a lock exists to win: the caps' last slot, a team's last admin. Tests using it
need ``transactional_db`` (each thread sees only committed rows, as separate requests do).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import connection


def at_once(*calls: Callable[[], Any], timeout: float = 60.0) -> list[Any]:
    """Run ``calls`` together; each one's return value or the exception it raised, in order."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout)
            outcomes[index] = call()
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            outcomes[index] = exc
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(i, c), daemon=True) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a racing call did not return"
    return outcomes


def slowed(func: Callable[..., Any], seconds: float) -> Callable[..., Any]:
    """``func``, then a pause: widens the window between a check and the write that follows it,
    so a race the lock must prevent happens every time instead of once in a while."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = func(*args, **kwargs)
        time.sleep(seconds)
        return result

    return wrapper
