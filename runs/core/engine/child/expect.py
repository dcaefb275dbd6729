"""How a response is judged: a step's expected status codes, and its extractions.

The verdict travels to the recorder in the request event's context (``EXPECT_KEY``) instead of
through ``catch_response``, whose ResponseContextManager copies every response and costs
~2.5% of the child's CPU.
"""

from __future__ import annotations

from typing import Any

from runs.core.engine import scenario_vars as sv

EXPECT_KEY = "scaletest_expect"


class UnexpectedStatus(Exception):
    """The target answered with a status code the step does not expect."""


def parse_statuses(spec: str) -> frozenset[int]:
    """``"200-299,304"`` → the set of codes. Empty or invalid parts raise ``ValueError``."""
    codes: set[int] = set()
    for part in (p.strip() for p in (spec or "").split(",")):
        if not part:
            continue
        low, _, high = part.partition("-")
        start, end = int(low), int(high or low)
        if not 100 <= start <= end <= 599:
            raise ValueError(f"bad status range {part!r}")
        codes.update(range(start, end + 1))
    if not codes:
        raise ValueError("no expected status codes")
    return frozenset(codes)


class Expect:
    """A step's expected status codes, carried to the recorder in the request event's context.

    Locust fires the request event with the response and its own verdict (``exception``);
    ``judge`` turns that into ours, exactly as ``catch_response`` + ``success()`` /
    ``failure()`` did: a response with an expected code is a success (whatever Locust
    thought of it), any other code is an :class:`UnexpectedStatus`, and no response at all
    (status 0: refused, reset, timeout) keeps Locust's connection error and its class.
    """

    __slots__ = ("codes", "spec")

    def __init__(self, codes: frozenset[int], spec: str) -> None:
        self.codes = codes
        self.spec = spec

    def judge(self, response: Any, exception: BaseException | None) -> BaseException | None:
        code = response.status_code if response is not None else 0
        if not code:
            return exception
        if code in self.codes:
            return None
        return UnexpectedStatus(f"HTTP {code} (expected {self.spec})")


class ExtractingExpect:
    """Per request of a step that extracts: judges the status as :class:`Expect`, then
    extracts into the iteration's values. A value that cannot be extracted fails the request
    (an :class:`~runs.core.engine.scenario_vars.ExtractionError` in the errors table)."""

    __slots__ = ("expect", "extractor", "values", "ok")

    def __init__(self, expect: Expect, extractor: sv.Extractor, values: dict[str, str]) -> None:
        self.expect = expect
        self.extractor = extractor
        self.values = values
        self.ok = False

    def judge(self, response: Any, exception: BaseException | None) -> BaseException | None:
        exception = self.expect.judge(response, exception)
        if exception is not None or response is None or not response.status_code:
            return exception
        try:
            self.extractor.apply(content=response.content, headers=response.headers, into=self.values)
        except sv.ExtractionError as exc:
            return exc
        self.ok = True
        return None
