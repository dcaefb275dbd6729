"""Server series against the load steps: steady values, the saturated resource, who tracks latency.

Pure module. A step's steady value of a series is the mean of its values inside the step's
steady window (``StepAggregate.start_t``..``end_t``, warm-up already trimmed); seconds the
source missed are left out, and a step with none has no value.

At the knee a series *saturates* when its steady value reaches its limit (within
``LIMIT_SHARE``) at the knee step or past it, having been below it at the lowest load, or,
without a limit, when it stops rising (under ``FLAT_RISE``) from the step before the knee while
the mean latency climbs (over ``LATENCY_RISE``). The sentence names it
the way a person would: "the demo target's 8 slots are all busy (8/8)".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# A sampled gauge of a full pool dips between hand-offs (one slot freed, the next request not
# yet in it): 90 % of the limit on average is full.
LIMIT_SHARE = 0.90
FLAT_RISE = 0.05
LATENCY_RISE = 0.20


@dataclass(frozen=True)
class SeriesInfo:
    key: str  # unique within the run: "<source>.<name>"
    source: str
    name: str
    unit: str = ""
    limit: float | None = None

    @property
    def label(self) -> str:
        return f"{self.source} · {self.name}"


@dataclass(frozen=True)
class Saturation:
    key: str
    users: float
    value: float
    how: str  # "limit" or "flat"
    phrase: str

    def to_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "users": self.users,
            "value": self.value,
            "how": self.how,
            "phrase": self.phrase,
        }


def steady_value(points: Mapping[int, float | None], start_t: int, end_t: int) -> float | None:
    values = [v for t in range(start_t, end_t + 1) if (v := points.get(t)) is not None and math.isfinite(v)]
    return math.fsum(values) / len(values) if values else None


def step_values(points: Mapping[int, float | None], windows: Sequence[tuple[int, int]]) -> list[float | None]:
    """The steady value in each ``(start_t, end_t)`` window."""
    return [steady_value(points, lo, hi) for lo, hi in windows]


def _number(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 10 or value == round(value) else f"{value:.2g}"


def phrase(info: SeriesInfo, value: float, how: str) -> str:
    """What saturates, in words (the source's name is user text: escaped where shown)."""
    unit = info.unit.strip()
    if how == "limit" and info.limit is not None:
        limit = _number(info.limit)
        if unit in ("%", "percent"):
            return f"{info.source}'s {info.name} is at {_number(value)}% of {limit}%"
        if unit and unit[-1:].isalpha() and unit not in ("B", "B/s", "req/s"):
            return f"{info.source}'s {limit} {unit} are all busy ({_number(value)}/{limit})"
        suffix = f" {unit}" if unit else ""
        return f"{info.source}'s {info.name} is at its limit ({_number(value)}/{limit}{suffix})"
    suffix = f" {unit}" if unit else ""
    return f"{info.source}'s {info.name} stops rising at {_number(value)}{suffix} while latency climbs"


def saturated(
    infos: Sequence[SeriesInfo],
    values: Mapping[str, Sequence[float | None]],
    users: Sequence[float],
    latency_ms: Sequence[float],
    knee_index: int,
) -> list[Saturation]:
    """Series saturated at the step ``knee_index`` (limits first, then flat ones)."""
    out: list[Saturation] = []
    flat: list[Saturation] = []
    if not 0 <= knee_index < len(users):
        return out
    for info in infos:
        series = values.get(info.key) or []
        if knee_index >= len(series):
            continue
        # The knee step, or the first step after it that has a value.
        at = next((i for i in range(knee_index, len(series)) if series[i] is not None), None)
        if at is None:
            continue
        value = float(series[at])  # type: ignore[arg-type]
        if info.limit is not None:
            # Full at the knee or past it (a sampled gauge of a full pool dips now and then),
            # and not already full before the load rose (then the load did not fill it).
            past = [float(v) for v in series[at:] if v is not None]
            first = next((v for v in series if v is not None), None)
            full = max(past) >= LIMIT_SHARE * info.limit
            already = first is not None and first >= LIMIT_SHARE * info.limit
            if full and not already:
                top = max(past)
                out.append(
                    Saturation(info.key, float(users[knee_index]), top, "limit", phrase(info, top, "limit"))
                )
            continue
        if at == 0 or at + 1 >= len(series):
            continue
        before, after = series[at - 1], series[at + 1]
        if before is None or after is None or before <= 0:
            continue
        rose_to_knee = value > before * (1 + FLAT_RISE)
        flat_after = after <= value * (1 + FLAT_RISE)
        lat_now, lat_next = latency_ms[at], latency_ms[at + 1] if at + 1 < len(latency_ms) else math.nan
        climbing = math.isfinite(lat_next) and lat_now > 0 and lat_next > lat_now * (1 + LATENCY_RISE)
        if rose_to_knee and flat_after and climbing:
            flat.append(
                Saturation(info.key, float(users[knee_index]), value, "flat", phrase(info, value, "flat"))
            )
    return out + flat


def latency_tracking(
    values: Mapping[str, Sequence[float | None]], latency_ms: Sequence[float]
) -> list[tuple[str, float]]:
    """Series ranked by how well their steady values track the mean latency across steps:
    ``(key, r)`` with Pearson's r over the steps both have (at least 3), highest |r| first."""
    ranked: list[tuple[str, float]] = []
    for key, series in values.items():
        pairs = [
            (float(v), float(lat))
            for v, lat in zip(series, latency_ms, strict=False)
            if v is not None and lat is not None and math.isfinite(lat)
        ]
        if len(pairs) < 3:
            continue
        xs, ys = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
        if float(xs.std()) == 0.0 or float(ys.std()) == 0.0:
            continue
        r = float(np.corrcoef(xs, ys)[0, 1])
        if math.isfinite(r):
            ranked.append((key, r))
    ranked.sort(key=lambda item: -abs(item[1]))
    return ranked


@dataclass(frozen=True)
class StepLoad:
    """What the analysis measured in one load step (its steady window)."""

    users: float
    start_t: int
    end_t: int
    throughput_rps: float
    mean_ms: float


def knee_step_index(
    steps: Sequence[StepLoad], knee_users: float | None, saturated_users: float | None
) -> int | None:
    """The step where the knee shows: the step throughput stopped growing at, else the first at
    or past N*."""
    if not steps:
        return None
    for wanted in (saturated_users, knee_users):
        if wanted is None:
            continue
        index = next((i for i, s in enumerate(steps) if s.users >= wanted - 1e-9), None)
        if index is not None:
            return index
    return None


def users_text(n: float) -> str:
    return f"{n:.0f}" if n >= 3 else f"{n:.1f}".rstrip("0").rstrip(".")


def server_analysis(
    infos: Sequence[SeriesInfo],
    points: Mapping[str, Mapping[int, float | None]],
    steps: Sequence[StepLoad],
    *,
    knee_status: str | None,
    knee_users: float | None,
    saturated_users: float | None,
) -> dict[str, Any]:
    """Each series' steady value per step, the series saturated at the knee (and the sentence
    naming it), and the series ranked by how they track latency. JSON-ready."""
    windows = [(s.start_t, s.end_t) for s in steps]
    values = {info.key: step_values(points.get(info.key) or {}, windows) for info in infos}
    latency = [s.mean_ms for s in steps]
    found: list[Saturation] = []
    sentence = ""
    index = knee_step_index(steps, knee_users, saturated_users) if knee_status == "knee" else None
    if index is not None:
        found = saturated(infos, values, [s.users for s in steps], latency, index)
        if found:
            at = users_text(knee_users if knee_users is not None else steps[index].users)
            sentence = f"At ~{at} users the {found[0].phrase}."
            if len(found) > 1:
                sentence += " Also saturated: " + "; ".join(s.phrase for s in found[1:]) + "."
    return {
        "series": [
            {"key": i.key, "source": i.source, "name": i.name, "unit": i.unit, "limit": i.limit}
            for i in infos
        ],
        "steps": [
            {
                "users": s.users,
                "throughput_rps": s.throughput_rps,
                "mean_ms": s.mean_ms,
                "values": {key: series[k] for key, series in values.items()},
            }
            for k, s in enumerate(steps)
        ],
        "saturated": [s.to_dict() for s in found],
        "sentence": sentence,
        "tracking": [{"key": key, "r": r} for key, r in latency_tracking(values, latency)],
    }


def sustained_extremes(
    points: Mapping[int, float | None], *, seconds: int = 5
) -> tuple[float | None, float | None]:
    """The highest and lowest mean over ``seconds`` consecutive stored seconds (a sustained
    value, not a one-second blip); the mean of all when fewer were stored."""
    ordered = sorted((t, v) for t, v in points.items() if v is not None and math.isfinite(v))
    if not ordered:
        return None, None
    if len(ordered) < seconds:
        mean = math.fsum(v for _, v in ordered) / len(ordered)
        return mean, mean
    means = [
        math.fsum(v for _, v in ordered[i : i + seconds]) / seconds
        for i in range(len(ordered) - seconds + 1)
        if ordered[i + seconds - 1][0] - ordered[i][0] == seconds - 1  # consecutive seconds only
    ]
    if not means:
        mean = math.fsum(v for _, v in ordered) / len(ordered)
        return mean, mean
    return max(means), min(means)
