"""Reads of a capacity search: the stored decisions of a run, its config and the answer."""

from __future__ import annotations

from typing import Any

from runs.core import capacity_search, profiles
from runs.models import Run


def search_config_of(*, snapshot: dict[str, Any]) -> capacity_search.SearchConfig | None:
    """The search config of a run's snapshot; None when the run is no capacity search."""
    profile = (snapshot or {}).get("profile") or {}
    kind = profile.get("kind")
    if not isinstance(kind, str) or not profiles.is_search(kind):
        return None
    try:
        params = profiles.validate_profile(
            kind, profile.get("params") or {}, max_users=10**9, max_seconds=10**9
        )
        return capacity_search.config_from_params(params, open_model=profiles.is_open_model(kind))
    except (profiles.ProfileError, ValueError, KeyError):
        return None


def run_search_view(*, run: Run) -> dict[str, Any] | None:
    """What the run page shows of a search: the steps (as decided in the child), how it ended
    and the answer sentence; None when the run is no capacity search."""
    config = search_config_of(snapshot=run.snapshot)
    if config is None:
        return None
    stored = run.capacity_search or {}
    steps = list(stored.get("decisions") or [])
    outcome = stored.get("outcome")
    if not steps:
        answer = "The search has not decided a step yet." if run.is_active else "The search decided no step."
    else:
        answer = capacity_search.answer(config, steps, outcome)
    return {
        "steps": steps,
        "outcome": outcome,
        "answer": answer,
        "objective": config.objective_label(),
        "unit": config.unit(),
        "model": config.model,
        "start": config.start,
        "ceiling": config.ceiling,
        "budget": config.budget_seconds,
        "capacity": capacity_of(steps),
    }


def capacity_of(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The highest passing step (the capacity), or None."""
    passed = [s for s in steps if s.get("passed")]
    return max(passed, key=lambda s: s["load"]) if passed else None
