"""A run's capacity analysis as stored JSON (``RunAnalysis.data``), and back.

Pure module: no ORM, no I/O. ``capacity_to_data`` and ``capacity_from_data`` round-trip a
``CapacityAnalysis`` (steps, knee, USL fit, warnings, per-endpoint steps, bottlenecks);
``block_series`` cuts per-second values into the short block means that comparisons use
instead of the per-second rows. PostgreSQL's jsonb has no NaN or infinity, so non-finite floats
are stored as the strings "NaN", "Infinity" and "-Infinity" and read back as floats.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from runs.core.analysis.bottleneck import BottleneckReport, EndpointLatencyRank, EndpointThroughputRank
from runs.core.analysis.compare import Comparison, comparison_summary
from runs.core.analysis.knee import KneeResult, LittlesLawCheck
from runs.core.analysis.steps import StepAggregate
from runs.core.analysis.usl import UslFit
from runs.core.analysis.validity import ValidityWarning

__all__ = [
    "CapacityAnalysis",
    "block_series",
    "capacity_from_data",
    "capacity_to_data",
    "jsonable",
    "verdicts_from_data",
    "verdicts_to_data",
]

_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
# Constant per step, or only needed while the analysis is computed (validity uses ``rates``).
_STEP_DROPPED = ("rates", "throughput_ci_method", "p95_ci_method")


@dataclass(frozen=True)
class CapacityAnalysis:
    """Everything the run page's capacity and validity sections show."""

    kind: str
    closed_model: bool
    show_capacity: bool
    steps: list[StepAggregate]
    knee: KneeResult | None
    usl: UslFit | None
    usl_note: str
    think_time_s: float
    endpoint_steps: dict[str, list[StepAggregate]] = field(default_factory=dict)
    bottlenecks: BottleneckReport | None = None
    warnings: list[ValidityWarning] = field(default_factory=list)
    # Why the analysis could not be computed (the pages then show the measured results and
    # this message instead of the capacity section); empty when it was.
    error: str = ""


def jsonable(value: Any) -> Any:
    """``value`` with tuples as lists, numpy scalars as Python numbers and non-finite floats
    as strings."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def _floats(value: Any) -> Any:
    """Inverse of ``jsonable``'s float encoding."""
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    if isinstance(value, str) and value in _NON_FINITE:
        return _NON_FINITE[value]
    return value


def _pair(value: Any) -> tuple[float, float] | None:
    return (value[0], value[1]) if value is not None else None


def _step_data(step: StepAggregate) -> dict[str, Any]:
    data = asdict(step)
    for name in _STEP_DROPPED:
        data.pop(name)
    return data


def _step(data: Mapping[str, Any]) -> StepAggregate:
    return StepAggregate(
        **{
            **data,
            "throughput_ci": _pair(data["throughput_ci"]),
            "p95_ci_ms": _pair(data["p95_ci_ms"]),
            "rates": (),
        }
    )


def capacity_to_data(capacity: CapacityAnalysis) -> dict[str, Any]:
    data = {
        "kind": capacity.kind,
        "closed_model": capacity.closed_model,
        "show_capacity": capacity.show_capacity,
        "think_time_s": capacity.think_time_s,
        "usl_note": capacity.usl_note,
        "steps": [_step_data(s) for s in capacity.steps],
        "knee": asdict(capacity.knee) if capacity.knee else None,
        "usl": asdict(capacity.usl) if capacity.usl else None,
        "warnings": [asdict(w) for w in capacity.warnings],
        "endpoint_steps": {
            name: [_step_data(s) for s in steps] for name, steps in capacity.endpoint_steps.items()
        },
        "bottlenecks": asdict(capacity.bottlenecks) if capacity.bottlenecks else None,
    }
    if capacity.error:
        data["error"] = capacity.error
    return jsonable(data)


def capacity_from_data(data: Mapping[str, Any]) -> CapacityAnalysis:
    data = _floats(data)
    knee = data["knee"]
    bottlenecks = data["bottlenecks"]
    return CapacityAnalysis(
        kind=data["kind"],
        closed_model=data["closed_model"],
        show_capacity=data["show_capacity"],
        steps=[_step(s) for s in data["steps"]],
        knee=KneeResult(
            **{
                **knee,
                "littles_law": tuple(LittlesLawCheck(**c) for c in knee["littles_law"]),
                "evidence": tuple(knee["evidence"]),
            }
        )
        if knee
        else None,
        usl=UslFit(**data["usl"]) if data["usl"] else None,
        usl_note=data["usl_note"],
        think_time_s=data["think_time_s"],
        endpoint_steps={name: [_step(s) for s in steps] for name, steps in data["endpoint_steps"].items()},
        bottlenecks=BottleneckReport(
            latency=tuple(EndpointLatencyRank(**e) for e in bottlenecks["latency"]),
            throughput=tuple(EndpointThroughputRank(**e) for e in bottlenecks["throughput"]),
            evidence=tuple(bottlenecks["evidence"]),
        )
        if bottlenecks
        else None,
        warnings=[ValidityWarning(**w) for w in data["warnings"]],
        error=data.get("error") or "",
    )


def block_series(
    windows: Sequence[tuple[int, int, int]], values: Mapping[int, float | None], *, seconds: int
) -> list[float | None]:
    """Means of ``seconds``-long blocks of ``values`` (by t) inside each (users, first t, last t)
    window, rounded to 4 decimals.

    Blocks never straddle two windows (each has one load level); a window's leading seconds
    that do not fill a block are left out, as they are nearest the warm-up. A block without
    any finite value is ``None``.
    """
    out: list[float | None] = []
    for _, lo, hi in windows:
        k = (hi - lo + 1) // seconds
        if k == 0:
            continue
        start = hi + 1 - k * seconds
        raw = [values.get(t) for t in range(start, hi + 1)]
        arr = np.array([math.nan if v is None else v for v in raw], dtype=float).reshape(k, seconds)
        filled = np.isfinite(arr).any(axis=1)
        means = np.full(k, math.nan)
        if filled.any():
            means[filled] = np.nanmean(arr[filled], axis=1)
        out.extend(round(float(m), 4) if math.isfinite(m) else None for m in means)
    return out


def block_users(windows: Sequence[tuple[int, int, int]], *, seconds: int) -> list[int]:
    """The load level of each block ``block_series`` makes from the same windows."""
    return [users for users, lo, hi in windows for _ in range((hi - lo + 1) // seconds)]


# -- stored comparison verdicts -----------------------------------------------------------------
# Bump when the verdict computation (runs.core.analysis.compare, selectors_analysis.verdicts) changes
# its results: verdicts stored under another version are recomputed.
VERDICTS_VERSION = 2
_COMPARISON_FIELDS = tuple(f for f in Comparison.__dataclass_fields__ if f != "summary")  # rebuilt on read
_COMPARISON_FLOATS = frozenset(
    {
        "p_value",
        "p_value_adjusted",
        "baseline_median",
        "candidate_median",
        "median_shift_relative",
        "hl_shift",
        "hl_shift_relative",
        "confidence",
    }
)
_COMPARISON_PAIRS = frozenset({"hl_ci", "hl_ci_relative"})


def verdicts_to_data(verdicts: Mapping[str, Comparison]) -> list[list[Any]]:
    """``{series name: Comparison}`` (``compare_endpoints`` with the default ``alpha`` and
    ``min_effect``) as JSON: one list per series, ``[name, *fields]`` without the summary text,
    in order."""
    return [jsonable([name, *(getattr(c, f) for f in _COMPARISON_FIELDS)]) for name, c in verdicts.items()]


def verdicts_from_data(data: Sequence[Sequence[Any]]) -> dict[str, Comparison]:
    """Inverse of ``verdicts_to_data`` (floats come back as floats, intervals as tuples, the
    summary is written again)."""
    out = {}
    for name, *values in data:
        fields: dict[str, Any] = {}
        for f, v in zip(_COMPARISON_FIELDS, _floats(values), strict=True):
            if v is not None and f in _COMPARISON_FLOATS:
                v = float(v)
            elif f in _COMPARISON_PAIRS:
                v = None if v is None else (float(v[0]), float(v[1]))
            fields[f] = v
        comparison = Comparison(**fields, summary="")
        out[name] = replace(comparison, summary=comparison_summary(comparison))
    return out
