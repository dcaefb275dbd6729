"""The knee of a capacity curve from the operational laws, and the sentence that heads it.

Pure module: no Django, no I/O. Two answers, each with its evidence:

* **the knee** N* = X_max × (R₀ + Z): where the two asymptotic bounds of a closed system meet,
  the line X = N / (R₀ + Z) a lightly loaded system follows and the ceiling X = X_max
  (Denning & Buzen's operational laws; Jain, *The Art of Computer Systems Performance
  Analysis*, ch. 33). R₀ + Z, the time one user takes per request at low load, is read off
  the lowest load as N / X (the response time law), which holds whatever the generator adds
  between requests; the measured mean response time R₀ and the planned think time Z are given
  beside it;
* **the step where throughput stops growing**: the first step within ``plateau_tolerance`` of
  the maximum throughput or at/past N*, whichever comes first, once the run went past the knee
  (a step beyond it, or a highest load clearly above N*).

An older rule (throughput gain below half the initial slope *and* latency 50 % above base, removed
in December 2026) fired a step or two past the knee whenever steps were coarse.
Throughput that flattens while latency stays at its base is not a knee of the target: users
were not kept busy (the generator, or think time), and it is reported as such.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from runs.core.analysis.knee import MIN_STEPS, KneeResult, KneeStatus, levels_averaged, littles_law_checks
from runs.core.analysis.steps import StepAggregate

__all__ = ["knee_from_laws", "knee_from_steps", "users_words"]


def users_words(n: float) -> str:
    """A user count as a person reads it: whole above 3, one decimal below."""
    return f"{n:.0f}" if n >= 3 else f"{n:.1f}".rstrip("0").rstrip(".")


def knee_from_steps(
    steps: Sequence[StepAggregate], *, think_time_s: float = 0.0, plateau_tolerance: float = 0.05
) -> KneeResult:
    """``knee_from_laws`` over the steps of a run (mean latency: Little's law needs it), with
    the steps' low-confidence notes summed up in ``confidence_note``."""
    low = [s for s in steps if s.note]
    note = ""
    if low:
        if len(low) == len(steps):
            which = "every load step is" if len(steps) > 1 else "its one load step is"
        else:
            which = f"{len(low)} of {len(steps)} load steps {'is' if len(low) == 1 else 'are'}"
        note = f"{which} short or incomplete ({low[0].note})"
    return knee_from_laws(
        [s.users for s in steps],
        [s.throughput_rps for s in steps],
        [s.mean_ms for s in steps],
        think_time_s=think_time_s,
        plateau_tolerance=plateau_tolerance,
        confidence_note=note,
    )


def knee_from_laws(
    users: Sequence[float],
    throughput_rps: Sequence[float],
    latency_ms: Sequence[float],
    *,
    think_time_s: float = 0.0,
    plateau_tolerance: float = 0.05,
    past_margin: float = 0.10,
    latency_rise: float = 0.10,
    littles_law_tolerance: float = 0.10,
    confidence_note: str = "",
) -> KneeResult:
    """The knee N* from the operational laws and the step where throughput stops growing.

    ``past_margin``: the highest load must exceed N* by this much for a run whose throughput
    was highest at its last step to count as saturated. ``latency_rise``: past the plateau,
    the mean latency must rise at least this much above R₀ for the flat throughput to be the
    target's limit. ``confidence_note`` (plain words) is appended to the headline as
    "Low confidence: …".
    """
    n, x, r = levels_averaged(users, throughput_rps, latency_ms)
    littles = littles_law_checks(n, x, r, think_time_s)
    law_notes = [
        f"Little's law off by {c.deviation:+.0%} at {c.users:g} users: X·(R+Z) = {c.implied_users:.1f} "
        f"(think time {think_time_s:g} s); check the think time, or whether the generator kept every "
        "user busy"
        for c in littles
        if abs(c.deviation) > littles_law_tolerance
    ]
    low = f" Low confidence: {confidence_note}." if confidence_note else ""
    usable = (n > 0) & (x > 0)
    best = int(x.argmax()) if len(x) else 0
    x_max = float(x[best]) if len(x) else None
    n_best = float(n[best]) if len(x) else None

    def result(status: KneeStatus, headline: str, evidence: list[str], **kw: object) -> KneeResult:
        fields: dict[str, object] = {
            "knee_users": None,
            "saturated_users": None,
            "initial_slope_rps_per_user": None,
            "base_latency_ms": None,
            "cycle_ms": None,
        } | kw
        return KneeResult(
            status=status,
            max_throughput_rps=x_max,
            max_throughput_users=n_best,
            littles_law=littles,
            evidence=tuple(evidence + law_notes),
            think_time_s=float(think_time_s),
            headline=headline + low,
            confidence_note=confidence_note,
            **fields,  # type: ignore[arg-type]
        )

    if len(n) < MIN_STEPS or not usable.any():
        if not len(n) or not x_max:
            headline = "No load step with throughput to analyse."
        else:
            headline = (
                f"Reached {x_max:.0f} req/s at {users_words(n_best or 0)} users; {len(n)} load "
                f"step{'s are' if len(n) != 1 else ' is'} too few to find where it tops out "
                f"(plan at least {MIN_STEPS})."
            )
        reason = (
            f"only {len(n)} step(s); need at least {MIN_STEPS} to judge scaling"
            if len(n) < MIN_STEPS
            else "no step has both users and throughput"
        )
        return result("insufficient_data", headline, [reason])

    assert x_max is not None and n_best is not None
    cycle_s = float(np.min(n[usable] / x[usable]))  # R₀ + Z by the response time law
    at = int(np.flatnonzero(usable)[np.argmin(n[usable] / x[usable])])
    r0 = float(np.nanmin(r[usable]))
    n_star = x_max * cycle_s
    # Where throughput stops growing: the first step near the maximum or, as noise between steps
    # can hide that, the first step at or past N* (where the bounds say it stops), whichever
    # comes first. The run went past the knee when its highest load is clearly beyond N* (a
    # noisy step must not make a saturated run read "still growing"), or a step after the
    # plateau exists.
    near_max = int(np.flatnonzero(x >= (1.0 - plateau_tolerance) * x_max)[0])
    past = np.flatnonzero(n >= n_star)
    plateau = min(near_max, int(past[0])) if past.size else near_max
    went_past = n[-1] >= (1.0 + past_margin) * n_star or plateau < len(n) - 1
    common = {
        "initial_slope_rps_per_user": 1.0 / cycle_s,
        "base_latency_ms": r0,
        "cycle_ms": cycle_s * 1000.0,
    }
    laws = (
        f"knee at {users_words(n_star)} users by the operational laws: N* = X_max × (R₀ + Z) = "
        f"{x_max:.1f} req/s × {cycle_s * 1000:.1f} ms = {n_star:.1f} users. R₀ + Z is the time per "
        f"request and user at the lowest load, N/X = {n[at]:g} ÷ {x[at]:.1f} req/s (measured mean "
        f"response time R₀ {r0:.1f} ms, planned think time Z {think_time_s:g} s)"
    )
    top = f"max throughput {x_max:.1f} req/s at {n_best:g} users"

    if not went_past:
        headline = (
            f"Reached {x_max:.0f} req/s at {n_best:g} users and still growing: no knee within the "
            f"tested loads (the operational laws put it at ~{users_words(n_star)} users or more)."
        )
        evidence = [
            f"no knee up to {n[-1]:g} users: throughput still grew to the last step "
            f"({x[-2]:.1f} → {x[-1]:.1f} req/s from {n[-2]:g} to {n[-1]:g} users)",
            laws,
            top,
        ]
        return result("no_knee", headline, evidence, **common)

    beyond = slice(plateau + 1 if plateau < len(n) - 1 else plateau, None)
    r_after = float(np.nanmax(r[beyond]))
    later = ", ".join(f"{ni:g}" for ni in n[beyond])
    gained = ", ".join(f"{xi:.1f}" for xi in x[beyond])
    if not r_after >= r0 * (1.0 + latency_rise):
        headline = (
            f"Throughput flattened at ~{x_max:.0f} req/s from {n[plateau]:g} users, but latency did "
            f"not rise: something other than the target held the load back (check the load "
            f"generator's CPU and the think time)."
        )
        evidence = [
            f"throughput stops growing at {n[plateau]:g} users ({x[plateau]:.1f} req/s) but mean "
            f"latency beyond it stayed at {r_after:.1f} ms, within {latency_rise:.0%} of base "
            f"{r0:.1f} ms: the users were not kept busy, so this is not the target's knee",
            top,
        ]
        return result("no_knee", headline, evidence, **common)

    stops = (
        f"throughput stops growing at {n[plateau]:g} users: {x[plateau]:.1f} req/s, "
        f"{x[plateau] / x_max:.0%} of the maximum; {later} users gave {gained} req/s while mean "
        f"latency rose from {r0:.1f} ms to {r_after:.1f} ms"
    )
    if plateau == 0:
        headline = (
            f"Tops out at {x_max:.0f} req/s already at {n[0]:g} users, the lowest step: the knee "
            f"is at or below ~{users_words(min(n_star, n[0]))} users (start lower to place it)."
        )
        stops += "; the lowest step was already saturated, so R₀ + Z and the knee are upper bounds"
    else:
        headline = (
            f"Tops out at {x_max:.0f} req/s; beyond ~{users_words(n_star)} users extra users "
            "only add latency."
        )
    return result(
        "knee",
        headline,
        [laws, stops, top],
        knee_users=round(n_star, 1),
        saturated_users=float(n[plateau]),
        **common,
    )
