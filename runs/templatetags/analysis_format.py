"""Number formatting for the analysis sections: fractions as signed or plain percentages."""

from __future__ import annotations

import math
from typing import Any

from django import template

register = template.Library()


def _finite(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


@register.filter
def pct(value: Any, digits: int = 1) -> str:
    """0.1234 -> "12.3 %"; "–" for None or NaN."""
    f = _finite(value)
    return "–" if f is None else f"{100.0 * f:.{int(digits)}f} %"


@register.filter
def signed_pct(value: Any, digits: int = 1) -> str:
    """0.1234 -> "+12.3 %"; "–" for None or NaN."""
    f = _finite(value)
    return "–" if f is None else f"{100.0 * f:+.{int(digits)}f} %"


@register.filter
def pvalue(value: Any) -> str:
    f = _finite(value)
    if f is None:
        return "–"
    return "< 0.001" if f < 0.001 else f"{f:.3f}"


@register.filter
def verdict_words(value: Any, what: str = "p95 response time") -> str:
    """A Comparison as one plain sentence (``runs.core.analysis.verdicts.verdict_words``)."""
    from runs.core.analysis.verdicts import verdict_words as words

    return words(value, what=what) if value is not None else ""
