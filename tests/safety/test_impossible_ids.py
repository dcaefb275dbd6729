"""An id no row can have (above 2**63 - 1) gets the same answer as an id that does not exist
on every URL and database (in a query string, a 400 saying it is not valid also does).

SQLite's driver cannot send such an integer (OverflowError): wherever one reached a foreign-key
or ``__in`` lookup, the embedded default answered 500 where PostgreSQL said "not found".
Schemathesis found it on /api/v1/teams/{id}/members; this walks every route instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from runs.models import Run
from tests.api.conftest import api_for
from tests.pages.conftest import finished_run, seeded_plan  # noqa: F401 (fixtures)

IMPOSSIBLE = str(2**63 + 12345)
MISSING = "987654321"  # a possible id that no row has
METHODS = ("get", "post", "put", "patch", "delete")
PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")


def routes(resolver: URLResolver | None = None, prefix: str = "") -> Iterator[str]:
    """Every route (``runs/<int:pk>/``) of the URLconf, ``path()`` ones only (the admin's
    regexes take no ids of ours)."""
    for pattern in (resolver or get_resolver()).url_patterns:
        route = getattr(pattern.pattern, "_route", None)
        if route is None:
            continue
        if isinstance(pattern, URLResolver):
            yield from routes(pattern, prefix + route)
        elif isinstance(pattern, URLPattern):
            yield prefix + route


def fill(route: str, id_value: str) -> str:
    def value(match: re.Match[str]) -> str:
        return id_value if match.group(1) == "int" else "no-such-token"

    return "/" + PARAMETER.sub(value, route)


def test_an_impossible_id_is_answered_like_a_missing_one_everywhere(alice: Any, finished_run: Run) -> None:  # noqa: F811
    page = Client(raise_request_exception=False)
    page.force_login(alice)
    api = api_for(alice)
    api.client.raise_request_exception = False

    def status(method: str, url: str) -> int:
        if url.startswith("/api/"):
            return int(api.call(method, url, {} if method != "get" else None).status_code)
        return int(getattr(page, method)(url).status_code)

    with_ids = [r for r in routes() if "<int:" in r]
    assert len(with_ids) >= 40  # the walk really reached the pages and the API
    run = finished_run.pk
    queries = [
        "runs/?plan={}",
        f"runs/compare/?ids={{}},{run}",
        f"runs/compare/window.json?ids={{}},{run}&from=0&to=5",
        "api/v1/runs?plan={}",
        "api/v1/runs?team={}",
        "api/v1/plans?team={}",
        "api/v1/targets?team={}",
        "api/v1/scenarios?team={}",
        "api/v1/profiles?team={}",
    ]
    differ: list[tuple[Any, ...]] = []
    for method in METHODS:
        for route in with_ids:
            impossible = status(method, fill(route, IMPOSSIBLE))
            missing = status(method, fill(route, MISSING))
            if impossible != missing or impossible >= 500:
                differ.append((method, route, impossible, missing))
    for query in queries:
        impossible = status("get", "/" + query.format(IMPOSSIBLE))
        missing = status("get", "/" + query.format(MISSING))
        if impossible not in (missing, 400):
            differ.append(("get", query, impossible, missing))

    def post_team(value: str) -> list[int]:
        """A team picked in a form, then in a JSON body."""
        body = {"name": "x", "target": 1, "scenario": 1, "profile": 1, "team": int(value)}
        switched = page.post("/teams/switch/", {"team": value}).status_code
        return [switched, api.post("/api/v1/plans", body).status_code]

    urls = ("/teams/switch/", "/api/v1/plans")
    for url, impossible, missing in zip(urls, post_team(IMPOSSIBLE), post_team(MISSING), strict=True):
        if impossible not in (missing, 400):
            differ.append(("post", url, impossible, missing))
    assert differ == [], "\n".join(map(str, differ))
