"""Pass/fail thresholds of a test plan: parsing, whole-run verdicts and the live abort watch.

Pure module: no Django, no I/O. A plan stores its thresholds as a JSON list of
:meth:`Threshold.to_dict` dicts; users type them one per line, k6-style::

    p95 < 500                           # whole run, all endpoints: p95 below 500 ms
    error_rate < 1%                     # failures / requests below 1 %
    rps >= 100                          # requests / measured seconds at least 100
    GET /api/items: p99 < 800 abort 10s # one endpoint (method + name as in the results);
                                        # stop the run when crossed for 10 consecutive seconds
    server:cpu_busy < 80%               # a server series of the target's metrics sources
                                        # (``server:<source>.<name>`` when names repeat)

Metrics: ``p50 p90 p95 p99 max`` (milliseconds; ``ms`` or ``s`` may follow the number),
``error_rate`` (percent; ``%`` optional), ``rps`` (requests per second; ``/s`` optional).
Latency and error rate take ``<`` or ``<=``, throughput ``>=`` or ``>``. ``#`` starts a comment.
A server series takes any of the four; it is judged on its highest (``<``, ``<=``) or lowest
(``>=``, ``>``) mean over 5 consecutive stored seconds, so a one-second blip does not decide
it; its unit is the series' own (a trailing ``%`` or unit word is decoration).

A threshold is judged on the whole run from stored exact data (:func:`evaluate`); one with
``abort`` is also watched second by second while the run goes (:class:`AbortWatch`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

LATENCY_METRICS = ("p50", "p90", "p95", "p99", "max")
METRICS = (*LATENCY_METRICS, "error_rate", "rps")
UPPER_OPS = ("<", "<=")  # the observed value must stay below the limit
LOWER_OPS = (">=", ">")  # the observed value must reach the limit
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
MAX_THRESHOLDS = 50
MAX_ABORT_SECONDS = 3600
MAX_NAME = 1000

PASSED, FAILED, NOT_EVALUABLE = "passed", "failed", "not_evaluable"

SYNTAX_HELP = (
    "One per line: [METHOD NAME:] METRIC OP VALUE [abort Ns]. Metrics: p50, p90, p95, p99, max (ms), "
    "error_rate (%), rps (requests/s). Examples: “p95 < 500”, “error_rate < 1%”, “rps >= 100”, "
    "“GET /api/items: p99 < 800 abort 10s” (stop the run when crossed for 10 consecutive seconds). "
    "A server series of the target's metrics sources: “server:cpu_busy < 80”."
)

_NUMBER = r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+"
SERVER = "server:"
_SERVER_LINE = re.compile(
    rf"""^\s*server\s*:\s*(?P<series>[^<>=]*?)\s*
    (?P<op><=|>=|<|>|==|=)\s*
    (?P<value>{_NUMBER})\s*(?P<unit>%|[A-Za-z/]{{1,12}})?
    (?P<abort>\s+abort\b.*)?\s*$""",
    re.VERBOSE | re.IGNORECASE,
)
_SERIES = re.compile(r"^[^\s<>=:][^<>=:]{0,200}$")


def is_server(metric: str) -> bool:
    return metric.startswith(SERVER)


_LINE = re.compile(
    rf"""^\s*
    (?:(?P<method>[A-Za-z]+)\s+(?P<name>\S.*?)\s*:\s*)?
    (?P<metric>[A-Za-z_0-9]+)\s*
    (?P<op><=|>=|<|>|==|=)\s*
    (?P<value>{_NUMBER})\s*(?P<unit>ms|s|%|/s|rps)?
    (?:\s+abort(?:\s+after)?\s+(?P<abort>[0-9]+)\s*(?:s|sec|seconds?)?)?
    \s*$""",
    re.VERBOSE | re.IGNORECASE,
)


@dataclass(frozen=True)
class Threshold:
    metric: str
    op: str
    value: float
    method: str | None = None
    name: str | None = None
    abort_after_seconds: int | None = None

    @property
    def endpoint(self) -> tuple[str, str] | None:
        return (self.method, self.name) if self.method and self.name is not None else None

    @property
    def unit(self) -> str:
        return unit_of(self.metric)

    def label(self) -> str:
        """The threshold as a user would type it (``GET /x: p95 < 500 ms abort 10s``)."""
        scope = f"{self.method} {self.name}: " if self.endpoint else ""
        abort = f" abort {self.abort_after_seconds}s" if self.abort_after_seconds else ""
        return f"{scope}{self.metric} {self.op} {format_value(self.metric, self.value)}{abort}"

    def text(self) -> str:
        """The compact line syntax, parsable again by :func:`parse_thresholds`."""
        if is_server(self.metric):
            return f"{self.metric} {self.op} {_plain(self.value)}"
        scope = f"{self.method} {self.name}: " if self.endpoint else ""
        unit = "%" if self.metric == "error_rate" else ""
        abort = f" abort {self.abort_after_seconds}s" if self.abort_after_seconds else ""
        return f"{scope}{self.metric} {self.op} {_plain(self.value)}{unit}{abort}"

    def crossed(self, observed: float) -> bool:
        """Whether ``observed`` breaks the threshold."""
        if self.op == "<":
            return not observed < self.value
        if self.op == "<=":
            return not observed <= self.value
        if self.op == ">=":
            return not observed >= self.value
        return not observed > self.value

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "op": self.op,
            "value": self.value,
            "method": self.method,
            "name": self.name,
            "abort_after_seconds": self.abort_after_seconds,
        }


def unit_of(metric: str) -> str:
    if is_server(metric):
        return ""
    return "ms" if metric in LATENCY_METRICS else ("%" if metric == "error_rate" else "req/s")


def _plain(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e15 else repr(value)


def format_value(metric: str, value: float | None) -> str:
    if value is None:
        return "–"
    # Four significant digits below 100 (0.001 stays 0.001), one decimal above.
    text = f"{value:.4g}" if abs(value) < 100 else f"{round(value, 1):.12g}"
    if is_server(metric):
        return text
    return f"{text}%" if metric == "error_rate" else f"{text} {unit_of(metric)}"


def format_limit(metric: str, value: float | None) -> str:
    """A limit as the user wrote it (no rounding: "p95 < 99.995" is not "< 100")."""
    if value is None:
        return "–"
    if is_server(metric):
        return _plain(value)
    return f"{_plain(value)}%" if metric == "error_rate" else f"{_plain(value)} {unit_of(metric)}"


def _holds(observed: float, op: str, limit: float) -> bool:
    return {"<": observed < limit, "<=": observed <= limit, ">=": observed >= limit}.get(op, observed > limit)


def format_observed(metric: str, value: float | None, *, op: str, limit: float | None) -> str:
    """:func:`format_value`, with as many more digits as it takes for the shown value to fall
    on the same side of ``limit`` as the real one: 99.9995 against "p95 < 100" reads 99.999 ms
    (passed), not 100 ms (which would fail)."""
    if value is None or limit is None or not math.isfinite(value):
        return format_value(metric, value)
    truth = _holds(value, op, limit)
    text = format_value(metric, value)
    for digits in range(5, 18):
        if _holds(float(text.split()[0].rstrip("%")), op, limit) == truth:
            return text
        shown = f"{value:.{digits}g}"
        if is_server(metric):
            text = shown
            continue
        text = f"{shown}%" if metric == "error_rate" else f"{shown} {unit_of(metric)}"
    return text


# -- parsing -------------------------------------------------------------------------------------
def parse_thresholds(raw: str | Sequence[Any] | None) -> list[Threshold]:
    """Thresholds from the line syntax (a str) or from their stored JSON list of dicts.

    Raises ValueError with a message naming the offending line or item.
    """
    if raw is None:
        return []
    if isinstance(raw, str):
        items: list[Threshold] = []
        for number, line in enumerate(raw.splitlines(), start=1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            try:
                items.append(parse_line(text))
            except ValueError as exc:
                raise ValueError(f"Line {number} (“{_short(text)}”): {exc}") from None
        return _checked(items)
    if not isinstance(raw, (list, tuple)):
        raise ValueError("Thresholds must be a list.")
    out = []
    for index, item in enumerate(raw, start=1):
        try:
            out.append(_from_dict(item))
        except ValueError as exc:
            raise ValueError(f"Threshold {index}: {exc}") from None
    return _checked(out)


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "…"


def _checked(items: list[Threshold]) -> list[Threshold]:
    if len(items) > MAX_THRESHOLDS:
        raise ValueError(f"At most {MAX_THRESHOLDS} thresholds per plan; {len(items)} were given.")
    seen: set[tuple[Any, ...]] = set()
    for item in items:
        key = (item.method, item.name, item.metric, item.op, item.value)
        if key in seen:
            raise ValueError(f"“{item.text()}” is given twice.")
        seen.add(key)
    return items


def parse_line(text: str) -> Threshold:
    """One threshold from the line syntax; ValueError says what is wrong."""
    server = _SERVER_LINE.match(text)
    if server is not None:
        if server["abort"]:
            raise ValueError("a server series cannot abort a run; judge it on the whole run.")
        return _build(
            metric=SERVER + server["series"].strip(),
            op=server["op"],
            value=float(server["value"]),
            method=None,
            name=None,
            abort=None,
        )
    match = _LINE.match(text)
    if match is None:
        raise ValueError(
            "not a threshold. Write [METHOD NAME:] METRIC OP VALUE [abort Ns], e.g. “p95 < 500” "
            "or “GET /api/items: error_rate < 1% abort 10s”."
        )
    method = match["method"].upper() if match["method"] else None
    name = match["name"]
    metric = match["metric"].lower()
    unit = (match["unit"] or "").lower()
    value = float(match["value"])
    if metric in LATENCY_METRICS and unit == "s":
        value *= 1000.0
    elif unit and not _unit_fits(metric, unit):
        raise ValueError(f"the unit “{match['unit']}” does not fit {metric} (use {unit_of(metric)}).")
    abort = int(match["abort"]) if match["abort"] is not None else None
    return _build(metric=metric, op=match["op"], value=value, method=method, name=name, abort=abort)


def _unit_fits(metric: str, unit: str) -> bool:
    if metric in LATENCY_METRICS:
        return unit in ("ms", "s")
    if metric == "error_rate":
        return unit == "%"
    if metric == "rps":
        return unit in ("/s", "rps")
    return False


def _from_dict(item: Any) -> Threshold:
    if not isinstance(item, Mapping):
        raise ValueError("each threshold must be an object.")
    unknown = set(item) - {"metric", "op", "value", "method", "name", "abort_after_seconds"}
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}.")
    value = item.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("value must be a number.")
    abort = item.get("abort_after_seconds")
    if abort is not None and (isinstance(abort, bool) or not isinstance(abort, int)):
        raise ValueError("abort_after_seconds must be a whole number of seconds.")
    method, name = item.get("method"), item.get("name")
    if (method is None) != (name is None):
        raise ValueError("an endpoint needs both method and name.")
    if method is not None and (not isinstance(method, str) or not isinstance(name, str)):
        raise ValueError("method and name must be text.")
    metric, op = item.get("metric"), item.get("op")
    if not isinstance(metric, str) or not isinstance(op, str):
        raise ValueError("metric and op must be text.")
    return _build(metric=metric, op=op, value=float(value), method=method, name=name, abort=abort)


def _build(
    *, metric: str, op: str, value: float, method: str | None, name: str | None, abort: int | None
) -> Threshold:
    if is_server(metric):
        return _build_server(metric=metric, op=op, value=value, method=method, abort=abort)
    if metric not in METRICS:
        raise ValueError(f"unknown metric “{_short(metric)}”; use one of {', '.join(METRICS)}.")
    if op in ("=", "=="):
        raise ValueError("a threshold is a bound: use < or <= (latency, error_rate) or >= or > (rps).")
    if metric == "rps" and op not in LOWER_OPS:
        raise ValueError("throughput is a lower bound: write rps >= N (or rps > N).")
    if metric != "rps" and op not in UPPER_OPS:
        raise ValueError(f"{metric} is an upper bound: write {metric} < N (or {metric} <= N).")
    if not math.isfinite(value) or value < 0:
        raise ValueError("the limit must be a finite number, 0 or more.")
    if metric == "error_rate" and value > 100:
        raise ValueError("an error rate is a percentage from 0 to 100.")
    if method is not None:
        method = method.upper()
        if method not in METHODS:
            raise ValueError(f"unknown HTTP method “{_short(method)}”; use one of {', '.join(METHODS)}.")
        assert name is not None
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            raise ValueError(f"the endpoint name must be 1 to {MAX_NAME} characters.")
    if abort is not None and not 1 <= abort <= MAX_ABORT_SECONDS:
        raise ValueError(f"abort after must be 1 to {MAX_ABORT_SECONDS} seconds.")
    return Threshold(metric=metric, op=op, value=value, method=method, name=name, abort_after_seconds=abort)


def _build_server(*, metric: str, op: str, value: float, method: str | None, abort: int | None) -> Threshold:
    series = metric.removeprefix(SERVER).strip()
    if not _SERIES.match(series):
        raise ValueError(
            "name the server series: server:<series> or server:<source>.<series>, e.g. server:cpu_busy < 80."
        )
    if op in ("=", "=="):
        raise ValueError("a threshold is a bound: use <, <=, >= or >.")
    if method is not None:
        raise ValueError("a server series belongs to no endpoint.")
    if abort is not None:
        raise ValueError("a server series cannot abort a run; judge it on the whole run.")
    if not math.isfinite(value):
        raise ValueError("the limit must be a finite number.")
    return Threshold(metric=SERVER + series, op=op, value=value)


def server_series_value(
    metric: str, op: str, server: Mapping[str, tuple[float | None, float | None]]
) -> tuple[float | None, str]:
    """A server threshold's observed value from ``server`` (``"source.name"`` -> (highest,
    lowest) sustained means) and, when it has none, why."""
    wanted = metric.removeprefix(SERVER)
    keys = [k for k in server if k == wanted or k.rsplit(".", 1)[-1] == wanted]
    if not keys:
        return None, "no server series of that name in this run"
    if len(keys) > 1:
        return None, f"{len(keys)} sources have a series of that name: write server:<source>.{wanted}"
    high, low = server[keys[0]]
    value = high if op in UPPER_OPS else low
    return value, "" if value is not None else "the series has no stored values"


def thresholds_text(items: Iterable[Threshold]) -> str:
    """The line syntax of ``items``, one per line (what the plan form shows to edit)."""
    return "\n".join(item.text() for item in items)


# -- whole-run verdicts --------------------------------------------------------------------------
@dataclass(frozen=True)
class Observed:
    """Whole-run figures of the run or of one endpoint, from merged exact histograms."""

    requests: int
    failures: int
    seconds: float  # measured seconds: throughput is requests / seconds
    percentiles: Mapping[str, float | None] = field(default_factory=dict)  # "p95" -> ms, "max" -> ms


def observed_value(metric: str, observed: Observed) -> float | None:
    """The metric's value, or None when it has no meaning (no requests for latency/error rate)."""
    if metric == "rps":
        return observed.requests / observed.seconds if observed.seconds > 0 else None
    if not observed.requests:
        return None
    if metric == "error_rate":
        return 100.0 * observed.failures / observed.requests
    return observed.percentiles.get(metric)


def evaluate(
    thresholds: Sequence[Threshold],
    *,
    overall: Observed,
    endpoints: Mapping[tuple[str, str], Observed],
    aborted_index: int | None = None,
    server: Mapping[str, tuple[float | None, float | None]] | None = None,
) -> list[dict[str, Any]]:
    """One verdict dict per threshold, in order (stored on the run as ``threshold_results``).

    A threshold that aborted the run fails whatever its whole-run value. Not evaluable: an
    endpoint absent from the results, or a latency / error rate without any request.
    """
    results = []
    for index, item in enumerate(thresholds):
        scope = overall if item.endpoint is None else endpoints.get(item.endpoint)
        value = observed_value(item.metric, scope) if scope is not None else None
        if is_server(item.metric):
            value, why = server_series_value(item.metric, item.op, server or {})
            verdict = NOT_EVALUABLE if value is None else (FAILED if item.crossed(value) else PASSED)
            note = why
        elif index == aborted_index:
            verdict, note = FAILED, f"aborted the run: crossed for {item.abort_after_seconds} s in a row"
        elif scope is None:
            verdict, note = NOT_EVALUABLE, "no request to this endpoint in the results"
        elif value is None:
            verdict, note = NOT_EVALUABLE, "no requests were measured"
        else:
            verdict, note = (FAILED if item.crossed(value) else PASSED), ""
        results.append(
            {
                **item.to_dict(),
                "label": item.label(),
                "unit": item.unit,
                "observed": value,
                "verdict": verdict,
                "note": note,
                "aborted": index == aborted_index,
            }
        )
    return results


def overall_passed(results: Sequence[Mapping[str, Any]]) -> bool | None:
    """None without thresholds; True only when every one passed (not evaluable does not pass)."""
    if not results:
        return None
    return all(r.get("verdict") == PASSED for r in results)


# -- the live abort watch ------------------------------------------------------------------------
@dataclass(frozen=True)
class SecondSample:
    """One stored second of the run or of one endpoint (``RunSecond`` / ``EndpointSecond``)."""

    t: int
    requests: int
    failures: int
    percentiles: Mapping[str, float | None] = field(default_factory=dict)


def second_value(metric: str, sample: SecondSample) -> float | None:
    """The metric over one second; None when that second cannot say (no completed request)."""
    if metric == "rps":
        return float(sample.requests)
    if not sample.requests:
        return None
    if metric == "error_rate":
        return 100.0 * sample.failures / sample.requests
    return sample.percentiles.get(metric)


@dataclass(frozen=True)
class Abort:
    index: int
    threshold: Threshold
    from_t: int
    to_t: int
    observed: float

    def message(self) -> str:
        item = self.threshold
        return (
            f"Aborted: {item.label().removesuffix(f' abort {item.abort_after_seconds}s')} crossed for "
            f"{item.abort_after_seconds} s (t = {self.from_t}–{self.to_t} s; last second "
            f"{format_value(item.metric, self.observed)})."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "label": self.threshold.label(),
            "from_t": self.from_t,
            "to_t": self.to_t,
            "observed": self.observed,
            "message": self.message(),
        }


@dataclass
class _Streak:
    start: int | None = None  # first crossed second since the last passing one


@dataclass
class AbortWatch:
    """Feeds stored seconds, in order, to the thresholds that have ``abort_after_seconds``.

    A threshold aborts when it has been crossed from second ``s`` to second ``t`` with no
    passing second in between and ``t - s + 1 >= abort_after_seconds``. A second that cannot
    say (no completed request, for latency and error rate) neither breaks nor extends a streak
    by itself; the streak's span counts wall seconds. Throughput ignores second 0, which
    covers only part of a second.
    """

    thresholds: Sequence[Threshold]
    _streaks: dict[int, _Streak] = field(default_factory=dict)
    last_t: int = -1

    def __post_init__(self) -> None:
        self._streaks = {i: _Streak() for i, item in enumerate(self.thresholds) if item.abort_after_seconds}

    @property
    def active(self) -> bool:
        return bool(self._streaks)

    def endpoints(self) -> set[tuple[str, str]]:
        """The endpoints whose seconds :meth:`feed` needs."""
        return {self.thresholds[i].endpoint for i in self._streaks if self.thresholds[i].endpoint}  # type: ignore[misc]

    def feed(
        self,
        overall: Sequence[SecondSample],
        endpoints: Mapping[tuple[str, str], Sequence[SecondSample]] | None = None,
    ) -> Abort | None:
        """Add the seconds after ``last_t`` (``overall``: every run second; ``endpoints``: the
        seconds each endpoint had a row). Returns the first abort, or None."""
        by_endpoint = {key: {s.t: s for s in samples} for key, samples in (endpoints or {}).items()}
        for sample in sorted(overall, key=lambda s: s.t):
            if sample.t <= self.last_t:
                continue
            self.last_t = sample.t
            for index, streak in self._streaks.items():
                item = self.thresholds[index]
                if item.endpoint is None:
                    scoped = sample
                else:
                    scoped = by_endpoint.get(item.endpoint, {}).get(sample.t) or SecondSample(sample.t, 0, 0)
                if item.metric == "rps" and sample.t == 0:
                    continue
                value = second_value(item.metric, scoped)
                if value is None:
                    continue
                if not item.crossed(value):
                    streak.start = None
                    continue
                if streak.start is None:
                    streak.start = sample.t
                assert item.abort_after_seconds is not None
                if sample.t - streak.start + 1 >= item.abort_after_seconds:
                    return Abort(
                        index=index, threshold=item, from_t=streak.start, to_t=sample.t, observed=value
                    )
        return None
