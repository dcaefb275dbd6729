"""A metrics source's series: ``name | expression | unit | limit``, one per line.

A *scrape* source evaluates a small PromQL-like expression on one ``/metrics`` page::

    expr     := term [("/" | "-" | "+") term] ["*" number]
    term     := "rate(" selector ")" | selector
    selector := metric_name ["{" label ("=" | "!=") "value" {"," ...} "}"]

Every sample matching a selector is summed (``node_cpu_seconds_total{mode!="idle"}`` is all
CPUs' busy seconds); ``rate(...)`` is that sum's change per second between two scrapes.
A *Prometheus* source sends the expression as PromQL to the server's range query API.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

KIND_SCRAPE = "scrape"
KIND_PROMETHEUS = "prometheus"
KINDS = (KIND_SCRAPE, KIND_PROMETHEUS)
MAX_SERIES = 20
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_METRIC = r"[A-Za-z_:][A-Za-z0-9_:]*"
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')
_SELECTOR = re.compile(rf"\s*({_METRIC})\s*(?:\{{([^}}]*)\}})?\s*")
_FIELD_SEP = re.compile(r"\s+\|\s*|\s*\|\s+")
_RATE = re.compile(rf"\s*rate\s*\(\s*({_METRIC}\s*(?:\{{[^}}]*\}})?)\s*\)\s*")


@dataclass(frozen=True)
class Selector:
    metric: str
    matchers: tuple[tuple[str, str, str], ...] = ()  # (label, "=" or "!=", value)

    def matches(self, labels: Mapping[str, str]) -> bool:
        for label, op, value in self.matchers:
            equal = labels.get(label, "") == value
            if equal != (op == "="):
                return False
        return True


@dataclass(frozen=True)
class Term:
    selector: Selector
    rate: bool = False


@dataclass(frozen=True)
class Expression:
    """A parsed scrape expression (see the module docstring)."""

    left: Term
    op: str = ""  # "", "/", "-", "+"
    right: Term | None = None
    scale: float = 1.0

    @property
    def needs_previous(self) -> bool:
        return self.left.rate or bool(self.right and self.right.rate)


@dataclass(frozen=True)
class SeriesSpec:
    name: str
    expr: str
    unit: str = ""
    limit: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "expr": self.expr, "unit": self.unit, "limit": self.limit}


def _selector(text: str) -> Selector:
    match = _SELECTOR.fullmatch(text)
    if match is None:
        raise ValueError(f'{text.strip()!r} is not a metric name with optional {{label="value"}} matchers')
    metric, inner = match.group(1), match.group(2)
    matchers: list[tuple[str, str, str]] = []
    if inner is not None and inner.strip():
        for part in _split_matchers(inner):
            m = _MATCHER.fullmatch(part)
            if m is None:
                raise ValueError(f'{part.strip()!r} is not a label matcher like mode="idle" or mode!="idle"')
            matchers.append((m.group(1), m.group(2), m.group(3).replace('\\"', '"').replace("\\\\", "\\")))
    return Selector(metric, tuple(matchers))


def _split_matchers(inner: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in inner:
        if char == "," and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def _term(text: str) -> Term:
    rate = _RATE.fullmatch(text)
    if rate is not None:
        return Term(_selector(rate.group(1)), rate=True)
    return Term(_selector(text))


def _split_top(text: str, ops: str) -> tuple[str, str, str] | None:
    """The first operator in ``ops`` outside braces, parentheses and quotes."""
    depth, quoted = 0, False
    for i, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char in "({":
            depth += 1
        elif char in ")}":
            depth -= 1
        elif depth == 0 and char in ops:
            return text[:i], char, text[i + 1 :]
    return None


def parse_expression(text: str) -> Expression:
    """Parse a scrape expression; ``ValueError`` says what is wrong."""
    body = text.strip()
    if not body:
        raise ValueError("the expression is empty")
    scale = 1.0
    star = _split_top(body, "*")
    if star is not None:
        body, _, number = star
        try:
            scale = float(number)
        except ValueError:
            raise ValueError(f"only a number may follow '*', not {number.strip()!r}") from None
        if not math.isfinite(scale):
            raise ValueError("the scale after '*' must be a finite number")
    split = _split_top(body, "/+-")
    if split is None:
        return Expression(_term(body), scale=scale)
    left, op, right = split
    return Expression(_term(left), op, _term(right), scale)


def _limit(text: Any) -> float | None:
    if text in (None, ""):
        return None
    try:
        value = float(str(text).strip().rstrip("%"))
    except ValueError:
        raise ValueError(f"the limit {text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError("a limit must be a positive number")
    return value


def series_from_dicts(items: Iterable[Mapping[str, Any]], *, kind: str) -> list[SeriesSpec]:
    """Validated series from stored or API dicts (``name``, ``expr``, ``unit``, ``limit``)."""
    out: list[SeriesSpec] = []
    seen: set[str] = set()
    for index, item in enumerate(items, start=1):
        if not isinstance(item, Mapping):
            raise ValueError(f"series {index}: must be an object with name and expr")
        name = str(item.get("name") or "").strip()
        expr = str(item.get("expr") or "").strip()
        if not NAME.match(name):
            raise ValueError(
                f"series {index}: the name {name!r} must be letters, digits and _ (up to 63), "
                "not starting with a digit"
            )
        if name in seen:
            raise ValueError(f"series {index}: the name {name!r} is used twice")
        seen.add(name)
        if not expr:
            raise ValueError(f"series {name}: the expression is empty")
        if "\x00" in expr or "\x00" in str(item.get("unit") or ""):
            raise ValueError(f"series {name}: the NUL character is not allowed")
        if len(expr) > 1000:
            raise ValueError(f"series {name}: the expression is longer than 1000 characters")
        if kind == KIND_SCRAPE:
            try:
                parse_expression(expr)
            except ValueError as exc:
                raise ValueError(f"series {name}: {exc}") from None
        unit = str(item.get("unit") or "").strip()[:20]
        try:
            limit = _limit(item.get("limit"))
        except ValueError as exc:
            raise ValueError(f"series {name}: {exc}") from None
        out.append(SeriesSpec(name, expr, unit, limit))
    if len(out) > MAX_SERIES:
        raise ValueError(f"at most {MAX_SERIES} series per source")
    return out


def parse_series_text(text: str, *, kind: str) -> list[SeriesSpec]:
    """``name | expression | unit | limit`` per line (unit and limit optional; # comments)."""
    items = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        # A pipe with a space beside it separates fields; PromQL's regex alternation
        # (mode=~"user|system") keeps its bare pipes.
        parts = [p.strip() for p in _FIELD_SEP.split(line)]
        if len(parts) < 2 or len(parts) > 4:
            raise ValueError(f"line {number}: write name | expression | unit | limit")
        parts += [""] * (4 - len(parts))
        items.append({"name": parts[0], "expr": parts[1], "unit": parts[2], "limit": parts[3]})
    return series_from_dicts(items, kind=kind)


def series_text(series: Iterable[SeriesSpec | Mapping[str, Any]]) -> str:
    lines = []
    for item in series:
        spec = item if isinstance(item, SeriesSpec) else SeriesSpec(**dict(item))
        limit = "" if spec.limit is None else f"{spec.limit:g}"
        lines.append(" | ".join([spec.name, spec.expr, spec.unit, limit]).rstrip(" |"))
    return "\n".join(lines)


# -- presets -----------------------------------------------------------------------------------
NODE_EXPORTER_SCRAPE = [
    SeriesSpec(
        "cpu_busy",
        'rate(node_cpu_seconds_total{mode!="idle"}) / rate(node_cpu_seconds_total) * 100',
        "%",
        100,
    ),
    SeriesSpec("memory_used", "node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes", "B"),
    SeriesSpec("load1", "node_load1", ""),
    SeriesSpec("network_rx", 'rate(node_network_receive_bytes_total{device!="lo"})', "B/s"),
    SeriesSpec("network_tx", 'rate(node_network_transmit_bytes_total{device!="lo"})', "B/s"),
    SeriesSpec("open_fds", "node_filefd_allocated", ""),
]
# irate over a minute: the last two samples, whatever the server's scrape interval (up to 30 s).
NODE_EXPORTER_PROMQL = [
    SeriesSpec("cpu_busy", '100 * (1 - avg(irate(node_cpu_seconds_total{mode="idle"}[1m])))', "%", 100),
    SeriesSpec("memory_used", "sum(node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes)", "B"),
    SeriesSpec("load1", "sum(node_load1)", ""),
    SeriesSpec("network_rx", 'sum(irate(node_network_receive_bytes_total{device!="lo"}[1m]))', "B/s"),
    SeriesSpec("network_tx", 'sum(irate(node_network_transmit_bytes_total{device!="lo"}[1m]))', "B/s"),
    SeriesSpec("open_fds", "sum(node_filefd_allocated)", ""),
]
# The demo target's own /metrics (runs.core.demo_target).
DEMO_TARGET_SCRAPE = [
    SeriesSpec("slots_busy", "demo_slots_busy", "slots", 8),
    SeriesSpec("queue_length", "demo_queue_length", "requests"),
    SeriesSpec("requests_served", "rate(demo_requests_served_total)", "req/s"),
]
PRESETS = {
    "node_exporter": {KIND_SCRAPE: NODE_EXPORTER_SCRAPE, KIND_PROMETHEUS: NODE_EXPORTER_PROMQL},
    "demo_target": {KIND_SCRAPE: DEMO_TARGET_SCRAPE},
}
PRESET_CHOICES = (
    ("", "None: the series below"),
    ("node_exporter", "node_exporter host view"),
    ("demo_target", "ScaleTest demo target"),
)


def preset_series(preset: str, kind: str) -> list[SeriesSpec]:
    """The preset's series for a source kind; ``ValueError`` when it has none for that kind."""
    try:
        return list(PRESETS[preset][kind])
    except KeyError:
        raise ValueError(f"the preset {preset!r} has no series for a {kind} source") from None
