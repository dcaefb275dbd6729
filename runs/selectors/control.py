"""Reads of a run's live control: its timeline, the markers on its charts, the plan it followed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runs.core import control, profiles
from runs.figures.control import marker_layout
from runs.models import Run, RunControl


@dataclass(frozen=True)
class TimelineRow:
    """One change as the timeline lists it and the charts mark it."""

    id: int
    kind: str
    kind_label: str
    value: float | None
    previous: float | None
    state: str
    state_label: str
    at_s: float | None
    requested_at: Any
    requested_by: str
    message: str

    @property
    def label(self) -> str:
        return marker_label(self.kind, self.value)

    def to_marker(self) -> dict[str, Any]:
        return {"id": self.id, "t": self.at_s, "label": self.label}


def marker_label(kind: str, value: float | None) -> str:
    """Short text of a change's marker: "→ 20 users", "→ 12.5 it/s", "stopped early"."""
    if kind == RunControl.Kind.STOP:
        return "stopped early"
    if value is None:
        return ""
    return f"→ {value:g} it/s" if kind == RunControl.Kind.RATE else f"→ {int(value)} users"


def run_timeline(*, run: Run) -> list[TimelineRow]:
    """Every change asked of ``run``, in the order asked (one query)."""
    rows = RunControl.objects.filter(run=run).select_related("requested_by").order_by("requested_at", "id")
    return [
        TimelineRow(
            id=r.pk,
            kind=r.kind,
            kind_label=r.get_kind_display(),
            value=r.value,
            previous=r.previous,
            state=r.state,
            state_label=r.get_state_display(),
            at_s=r.at_s,
            requested_at=r.requested_at,
            requested_by=r.requested_by.get_username() if r.requested_by is not None else "",
            message=r.message,
        )
        for r in rows
    ]


def timeline_markers(rows: Sequence[TimelineRow]) -> list[dict[str, Any]]:
    """The applied changes, as chart markers: {id, t, label}."""
    return [r.to_marker() for r in rows if r.state == RunControl.State.APPLIED and r.at_s is not None]


def runs_timeline_markers(*, ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """The applied changes of each run of ``ids`` as chart markers (``timeline_markers``), in
    one query; runs without any are left out."""
    out: dict[int, list[dict[str, Any]]] = {}
    rows = (
        RunControl.objects.filter(run_id__in=ids, state=RunControl.State.APPLIED, at_s__isnull=False)
        .order_by("run_id", "requested_at", "id")
        .values_list("run_id", "id", "kind", "value", "at_s")
    )
    for run_id, pk, kind, value, at_s in rows:
        out.setdefault(run_id, []).append({"id": pk, "t": at_s, "label": marker_label(kind, value)})
    return out


def effective_plan(*, snapshot: dict[str, Any], rows: Sequence[TimelineRow]) -> profiles.Plan | None:
    """The plan the run followed: its snapshot's profile with the applied changes and the stop
    (``runs.core.control.effective_plan``); the planned one without any; None without a valid
    profile."""
    profile = snapshot.get("profile") or {}
    try:
        plan = profiles.build_plan(str(profile.get("kind", "")), profile.get("params") or {})
    except (profiles.ProfileError, KeyError, TypeError, ValueError):
        return None
    applied = [r for r in rows if r.state == RunControl.State.APPLIED and r.at_s is not None]
    if not applied or not control.is_controllable_plan(plan):
        return plan  # a stepped run stopped early: its later steps simply have no data
    changes = [
        control.Change(float(r.at_s or 0.0), float(r.value))
        for r in applied
        if r.kind != RunControl.Kind.STOP and r.value is not None
    ]
    stops = [float(r.at_s or 0.0) for r in applied if r.kind == RunControl.Kind.STOP]
    return control.effective_plan(plan, changes, stopped_at=min(stops) if stops else None)


def run_effective_plan(*, run: Run) -> profiles.Plan | None:
    return effective_plan(snapshot=run.snapshot or {}, rows=run_timeline(run=run))


def planned_curve(plan: profiles.Plan | None) -> tuple[list[float], list[float]] | None:
    """The planned curve (users, or iterations/s) of the plan the run followed."""
    if plan is None or plan.duration <= 0:
        return None
    return profiles.preview(plan)


@dataclass(frozen=True)
class ControlPanel:
    """What the run page's live control offers for a run."""

    can_change: bool  # a constant profile on one generator
    unit: str  # "users" or "iterations/s"
    level: float | None  # the level it holds (or will, once pending changes apply)
    why_not: str  # when it cannot change: why, in plain words


def control_panel(*, run: Run, rows: Sequence[TimelineRow]) -> ControlPanel:
    kind = str(((run.snapshot or {}).get("profile") or {}).get("kind", ""))
    unit = "iterations/s" if profiles.is_open_model(kind) else "users"
    why = ""
    if not control.is_controllable(kind):
        why = (
            f"Its profile (“{profiles.KIND_LABELS.get(kind, kind)}”) plans its own levels; "
            "only constant profiles change their load while running."
        )
    elif run.generators > 1:
        why = "It runs on several load generators; live changes need one."
    level = None
    for r in rows:
        if r.kind != RunControl.Kind.STOP and r.value is not None and r.state not in ("refused", "missed"):
            level = r.value
    if level is None and not why:
        plan = effective_plan(snapshot=run.snapshot or {}, rows=())
        level = control.plan_level(plan) if plan is not None else None
    return ControlPanel(can_change=not why, unit=unit, level=level, why_not=why)


def live_controls(*, run: Run) -> dict[str, Any]:
    """The live page's part: the timeline (numbers and fixed labels only) and its markers."""
    rows = run_timeline(run=run)
    return {
        "timeline": [
            {"id": r.id, "label": r.label, "state": r.state, "state_label": r.state_label, "t": r.at_s}
            for r in rows
        ],
        "markers": marker_layout(timeline_markers(rows)),
    }
