"""Pure analysis of load-test results: no Django, no ORM, no I/O.

Inputs are plain sequences and dataclasses; outputs are frozen dataclasses that pages and
reports can render directly.
"""

from __future__ import annotations

from runs.core.analysis.bottleneck import (
    BottleneckReport,
    EndpointLatencyRank,
    EndpointThroughputRank,
    rank_bottlenecks,
)
from runs.core.analysis.compare import (
    Comparison,
    auto_block_seconds,
    compare_endpoints,
    compare_samples,
    hodges_lehmann,
)
from runs.core.analysis.downsample import downsample_minmax
from runs.core.analysis.knee import KneeResult, LittlesLawCheck
from runs.core.analysis.steps import (
    IntervalPoint,
    Step,
    StepAggregate,
    aggregate_step,
    aggregate_steps,
    detect_steps,
)
from runs.core.analysis.usl import UslFit, fit_usl, usl_curve, usl_throughput
from runs.core.analysis.validity import ValidityWarning, check_validity

__all__ = [
    "BottleneckReport",
    "Comparison",
    "EndpointLatencyRank",
    "EndpointThroughputRank",
    "IntervalPoint",
    "KneeResult",
    "LittlesLawCheck",
    "Step",
    "StepAggregate",
    "UslFit",
    "ValidityWarning",
    "aggregate_step",
    "aggregate_steps",
    "auto_block_seconds",
    "check_validity",
    "compare_endpoints",
    "compare_samples",
    "detect_steps",
    "downsample_minmax",
    "fit_usl",
    "hodges_lehmann",
    "rank_bottlenecks",
    "usl_curve",
    "usl_throughput",
]
