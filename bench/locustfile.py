"""Plain Locust, for the side-by-side benchmarks: the same FastHttpUser the ScaleTest child
builds (no think time, one GET step). Settings come from the environment:

* BENCH_PATH   path to request (default /index.html); a comma-separated list with
               ``path*weight`` items gives several weighted steps under one name (BENCH_NAME).
* BENCH_NAME   the request name (default: the path).
* BENCH_STYLE  ``plain`` (``client.get``, what a Locust user writes; default) or ``same``
               (``client.request(..., catch_response=True)`` + ``success()``, as the child does).
* BENCH_TAP    a file to write every raw response time (ms, one per line) to: the fidelity
               benchmark's ground truth, taken from the same requests Locust reports on.
"""

from __future__ import annotations

import os

from locust import FastHttpUser, constant, events

STYLE = os.environ.get("BENCH_STYLE", "plain")
NAME = os.environ.get("BENCH_NAME") or None
STEPS: list[tuple[str, int]] = []
for item in os.environ.get("BENCH_PATH", "/index.html").split(","):
    path, _, weight = item.partition("*")
    STEPS.append((path, int(weight or 1)))

_tap: list[float] = []
if os.environ.get("BENCH_TAP"):

    @events.request.add_listener
    def _record(response_time: float, **_: object) -> None:
        _tap.append(response_time)

    @events.quitting.add_listener
    def _write(**_: object) -> None:
        with open(os.environ["BENCH_TAP"], "w") as f:
            f.write("\n".join(repr(x) for x in _tap))


def _task(path: str):
    name = NAME or path

    if STYLE == "same":

        def task(user: FastHttpUser) -> None:
            with user.client.request("GET", path, name=name, headers={}, data=None, catch_response=True) as r:
                if 200 <= r.status_code < 400:
                    r.success()
                elif r.status_code:
                    r.failure(f"HTTP {r.status_code}")

    else:

        def task(user: FastHttpUser) -> None:
            user.client.get(path, name=name)

    return task


class BenchUser(FastHttpUser):
    wait_time = constant(0)
    # Locust takes {task: weight} (documented); its annotation names only the list form.
    tasks = {_task(path): weight for path, weight in STEPS}  # type: ignore[assignment]
