"""One ``/metrics`` page in the Prometheus text format, and the series values it gives.

The page is parsed by ``prometheus_client``'s own parser; a series expression
(``runs.core.metrics.series``) sums the matching samples. ``rate(...)`` needs the previous
scrape of the same source: the change of the sum per second of the scrapes' wall time, or no
value on the first scrape and after a counter reset.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from runs.core.metrics.series import Expression, SeriesSpec, Term, parse_expression

Samples = dict[str, list[tuple[dict[str, str], float]]]


class ScrapeError(ValueError):
    """The page is not in the Prometheus text format; the message says where."""


@dataclass
class Scrape:
    """A parsed page: samples by name, and when it was read (seconds, any monotonic clock)."""

    at: float
    samples: Samples = field(default_factory=dict)


def parse_page(text: str, *, at: float) -> Scrape:
    samples: Samples = {}
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples.setdefault(sample.name, []).append((dict(sample.labels), float(sample.value)))
    except (ValueError, TypeError, IndexError) as exc:
        raise ScrapeError(f"not in the Prometheus text format: {exc}") from None
    return Scrape(at=at, samples=samples)


def _sum(scrape: Scrape, term: Term) -> float | None:
    rows = scrape.samples.get(term.selector.metric)
    if not rows:
        return None
    values = [v for labels, v in rows if term.selector.matches(labels) and not math.isnan(v)]
    return math.fsum(values) if values else None


def _term_value(term: Term, now: Scrape, previous: Scrape | None) -> float | None:
    current = _sum(now, term)
    if current is None or not term.rate:
        return current
    if previous is None or now.at <= previous.at:
        return None
    before = _sum(previous, term)
    if before is None or current < before:  # first sight, or the counter was reset
        return None
    return (current - before) / (now.at - previous.at)


def evaluate(expr: Expression, now: Scrape, previous: Scrape | None) -> float | None:
    left = _term_value(expr.left, now, previous)
    if left is None:
        return None
    if expr.right is not None:
        right = _term_value(expr.right, now, previous)
        if right is None:
            return None
        if expr.op == "/":
            if right == 0:
                return None
            left = left / right
        elif expr.op == "-":
            left = left - right
        else:
            left = left + right
    value = left * expr.scale
    return value if math.isfinite(value) else None


def evaluate_series(
    series: Sequence[SeriesSpec], now: Scrape, previous: Scrape | None
) -> dict[str, float | None]:
    """Every series' value for this scrape (None: no value this time)."""
    return {spec.name: evaluate(parse_expression(spec.expr), now, previous) for spec in series}


def values_at(values: Mapping[str, float | None], names: Sequence[str]) -> list[float | None]:
    return [values.get(name) for name in names]
