"""Live control in the child: ``set`` commands change the level of a one-process run of a
constant profile (``runs.core.control``).

Each accepted change becomes part of the run's effective plan (``control.effective_plan``, the
same function the analysis uses), which the load follows from the moment it is taken: users on
Locust's runner through :class:`ProfileShape`'s plan (closed model), or the arrival schedule of
:class:`ControlledOpenLoad` (open model). The time it was taken goes back to the parent in the
``control`` message and marks where the new level starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import gevent.event

from runs.core import control, profiles
from runs.core.engine import protocol
from runs.core.engine.child.shapes import OpenLoad


class PlanControl:
    """Turns ``set`` commands into a new effective plan for ``replan``; the child's ``on_set``."""

    def __init__(self, plan: profiles.Plan, *, start: int, replan: Callable[[profiles.Plan], None]) -> None:
        self.base = plan
        self.start = start  # the wall-clock second at which t = 0
        self.replan = replan
        self.changes: list[control.Change] = []

    def __call__(self, command: protocol.SetCommand) -> tuple[bool, str, float]:
        wanted = command.rate if self.base.is_open else command.users
        if wanted is None:
            unit = "an arrival rate" if self.base.is_open else "a user count"
            return False, f"this run takes {unit}", time.time()
        epoch = time.time()
        changes = [*self.changes, control.Change(max(0.0, epoch - self.start), float(wanted))]
        try:
            plan = control.effective_plan(self.base, changes)
        except control.ControlError as exc:
            return False, str(exc), epoch
        self.changes = changes
        self.replan(plan)
        return True, "", epoch


class ControlledOpenLoad(OpenLoad):
    """:class:`OpenLoad` whose arrival rate can change while it runs (:meth:`set_plan`).

    Until the first change it starts iterations on the planned schedule; after a change at
    ``at`` to ``rate`` iterations/s, at ``at + k / rate`` (k = 0, 1, ...) until the planned end.
    The dispatcher sleeps on an event, so a change takes effect at once, not at the next due
    iteration.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wake = gevent.event.Event()
        self.latest: tuple[float, float] | None = None  # (plan time, rate) of the last change

    def set_plan(self, plan: profiles.Plan) -> None:
        at = sum(seg.duration for seg in plan.rates[:-1])
        self.plan = plan
        self.latest = (at, plan.rates[-1].from_rate)
        self.wake.set()

    def _after_change(self) -> Iterator[float]:
        assert self.latest is not None
        at, rate = self.latest
        k = 0
        while (offset := at + k / rate) < self.plan.duration:
            yield offset
            k += 1

    def dispatch(self) -> None:
        origin = time.monotonic() + (self.start - time.time())
        offsets: Iterator[float] = profiles.start_offsets(self.plan)
        while True:
            self.wake.clear()
            changed = False
            for offset in offsets:
                due = origin + offset
                delay = due - time.monotonic()
                if delay > 0 and self.wake.wait(delay):
                    changed = True  # this iteration belongs to the old schedule
                    break
                if self.pool.full():
                    self.dropped += 1
                    self.recorder.on_dropped(self.start + int(offset))
                    continue
                self.max_lag = max(self.max_lag, time.monotonic() - due)
                self.pool.spawn(self.iteration)
                self.started += 1
                self.peak = max(self.peak, len(self.pool))
            if not changed:
                # The load lasts the planned duration; a change during the wait starts anew.
                changed = self.wake.wait(max(0.0, origin + self.plan.duration - time.monotonic()))
            if not changed:
                return
            offsets = self._after_change()


def closed_control(shape: Any, plan: profiles.Plan, *, start: int) -> PlanControl:
    """Live control of a users run: the shape (``ProfileShape``) follows the new plan from its
    next tick (Locust ticks the shape every second)."""

    def replan(new: profiles.Plan) -> None:
        shape.plan = new

    return PlanControl(plan, start=start, replan=replan)


def open_control(load: ControlledOpenLoad, plan: profiles.Plan, *, start: int) -> PlanControl:
    return PlanControl(plan, start=start, replan=load.set_plan)
