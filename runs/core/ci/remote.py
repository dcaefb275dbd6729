"""A :class:`~runs.core.ci.driver.RunSource` over a ScaleTest server's REST API, with the standard
library only: CI machines run ``python3 -m runs.ci`` from a checkout without installing Django.

The server's run representation carries ``ci.status`` and ``ci.result``, built by the same
functions as ``runs.services.ci`` (``run_status_payload`` / ``run_result_payload``), so a remote run
prints and judges exactly as ``manage.py ci_run`` does on the server itself.

Every failure (network, refused token, unknown plan, HTTP 4xx/5xx, a redirect, an answer that is
not ScaleTest's JSON) becomes a :class:`~runs.core.ci.driver.CiError` with a message for the CI log;
the driver then exits 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from runs.core.ci.driver import (
    EXIT_ERROR,
    CapacityGate,
    CiError,
    RunResult,
    RunStatus,
    ci_drive,
    junit_xml,
)

API_PREFIX = "/api/v1"
TOKEN_ENV = "SCALETEST_API_TOKEN"
REQUEST_TIMEOUT = 30.0
# A poll that meets a network error or a 5xx is tried again this many times (1 s, 2 s, 4 s apart)
# before the CI job gives up: a server restart during a long run should not fail the build.
POLL_RETRIES = 3


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would turn a POST into a GET and could carry the token to another host."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        raise CiError(f"{req.full_url} redirects (HTTP {code}) to {newurl}; give that address as --server.")


def _detail(raw: bytes) -> str:
    """The API's ``{"detail": ...}`` as one line (a 422's list becomes "where: message; …")."""
    try:
        detail = json.loads(raw.decode("utf-8")).get("detail")
    except (ValueError, AttributeError):
        text = raw.decode("utf-8", "replace").strip()
        return text[:200] + ("…" if len(text) > 200 else "")
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                where = ".".join(str(p) for p in item.get("loc") or [] if p != "body")
                parts.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
        return "; ".join(parts)
    return str(detail)


def server_url(server: str) -> str:
    """``server`` checked and without a trailing slash; CiError when it is not an http(s) URL."""
    parsed = urllib.parse.urlsplit(server.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise CiError(f"--server must be the server's http:// or https:// address, not “{server}”.")
    if parsed.query or parsed.fragment:
        raise CiError(f"--server must be an address without ?query or #fragment, not “{server}”.")
    return urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, parsed.path.rstrip("/"), "", ""))


class RemoteRunSource:
    """Starts ``plan`` (an id, or an exact name) on ``server`` as the owner of ``token`` and
    follows the run through ``/api/v1``."""

    def __init__(
        self,
        *,
        server: str,
        token: str,
        plan: str,
        version: str = "",
        tags: list[str] | None = None,
        request_timeout: float = REQUEST_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.server = server_url(server)
        if not token.strip():
            raise CiError(
                f"no API token: give --token or set {TOKEN_ENV} (create one on the API tokens page)."
            )
        self.token = token.strip()
        self.plan = plan
        # Marks the run as started by CI, with what it tested (shown and filterable on the pages).
        self.start_fields = {"trigger": "ci", "version": version, "tags": list(tags or [])}
        self.request_timeout = request_timeout
        self.sleep = sleep
        self.run_id: int | None = None
        self._opener = urllib.request.build_opener(_NoRedirects)

    # -- HTTP ------------------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, decoded JSON) of a 2xx answer; raises CiError otherwise. An HTTP error is
        raised as CiError with ``.status`` set, so callers can tell a 404 from the rest."""
        url = f"{self.server}{API_PREFIX}{path}"
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/json")
        request.add_header("User-Agent", "scaletest-ci/1")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with self._opener.open(request, timeout=self.request_timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            detail = _detail(exc.read())
            if exc.code == 401:
                message = (
                    f"{self.server} refused the API token ({detail or 'HTTP 401'}); check --token or "
                    f"{TOKEN_ENV} (tokens are made on the API tokens page, and can expire or be revoked)."
                )
            else:
                message = f"{method} {url} answered HTTP {exc.code}: {detail or exc.reason}"
            error = CiError(message)
            error.status = exc.code  # type: ignore[attr-defined]
            raise error from None
        except urllib.error.URLError as exc:
            raise CiError(f"cannot reach {self.server}: {exc.reason}") from None
        except TimeoutError:
            raise CiError(
                f"{self.server} did not answer {method} {path} within {self.request_timeout:g} s"
            ) from None
        except OSError as exc:  # a connection reset mid-answer
            raise CiError(f"the connection to {self.server} failed: {exc}") from None
        try:
            return status, json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            raise CiError(
                f"{method} {url} did not answer with JSON; is {self.server} a ScaleTest server?"
            ) from None

    def _run_body(self) -> dict[str, Any]:
        """GET the run, trying again on network errors and 5xx (never on a 4xx)."""
        if self.run_id is None:
            raise CiError("no run was started")
        for attempt in range(POLL_RETRIES + 1):
            try:
                body = self._call("GET", f"/runs/{self.run_id}")[1]
                break
            except CiError as exc:
                if getattr(exc, "status", 500) < 500 or attempt == POLL_RETRIES:
                    raise
                self.sleep(2.0**attempt)
        if not isinstance(body, dict) or not isinstance(body.get("ci"), dict):
            raise CiError(f"{self.server} answered without the run's CI fields; is it an older ScaleTest?")
        return body

    def _absolute(self, url: Any) -> str:
        return urllib.parse.urljoin(self.server + "/", str(url or ""))

    # -- RunSource ---------------------------------------------------------------------------------
    def start(self) -> dict[str, Any]:
        ref = self.plan.strip()
        if not ref:
            raise CiError("give the test plan's id or exact name.")
        body: Any = None
        if ref.isascii() and ref.isdigit():
            try:
                body = self._call("POST", "/runs", {"plan": int(ref), **self.start_fields})[1]
            except CiError as exc:
                if getattr(exc, "status", None) != 404:
                    raise
        if body is None:
            try:
                body = self._call("POST", "/runs", {"plan_name": ref, **self.start_fields})[1]
            except CiError as exc:
                if getattr(exc, "status", None) == 404:
                    raise CiError(
                        f"no test plan you may see on {self.server} has the id or name “{ref}”."
                    ) from None
                raise
        if not isinstance(body, dict) or not isinstance(body.get("id"), int):
            raise CiError(f"{self.server} did not answer with a run; is it a ScaleTest server?")
        self.run_id = body["id"]
        return {
            "id": body["id"],
            "url": self._absolute(body.get("url")),
            "planned_seconds": float(body.get("planned_seconds") or 0),
        }

    def poll(self) -> RunStatus:
        return self._run_body()["ci"]["status"]  # type: ignore[no-any-return]

    def result(self) -> RunResult:
        result: RunResult = dict(self._run_body()["ci"]["result"])  # type: ignore[assignment]
        result["url"] = self._absolute(result.get("url"))
        return result

    def cancel(self) -> None:
        try:
            self._call("POST", f"/runs/{self.run_id}/cancel", {})
        except CiError as exc:
            if getattr(exc, "status", None) != 409:  # 409: it ended meanwhile
                raise


# -- command line ----------------------------------------------------------------------------------
def ci_run_remote(
    *,
    server: str,
    token: str,
    plan: str,
    timeout: float | None,
    interval: float,
    junit_path: str | None,
    emit: Callable[[str], None],
    version: str = "",
    tags: list[str] | None = None,
    gate: CapacityGate | None = None,
) -> int:
    """Run ``plan`` on ``server`` and return the exit code (0 passed, 1 thresholds failed, 2 error)."""
    try:
        source = RemoteRunSource(server=server, token=token, plan=plan, version=version, tags=tags)
    except CiError as exc:
        emit(f"Error: {exc}")
        if junit_path:
            with open(junit_path, "w", encoding="utf-8") as fh:
                fh.write(junit_xml(None, plan=plan, error=str(exc)))
        emit(f"Result: ERROR ({exc})")
        return EXIT_ERROR
    return ci_drive(
        source,
        emit=emit,
        timeout=timeout,
        interval=max(0.5, interval),
        junit_path=junit_path,
        plan=plan,
        gate=gate,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m runs.ci",
        description="Run a ScaleTest test plan on a server through its REST API, wait for it, print its "
        "thresholds and exit 0 (passed), 1 (a threshold failed) or 2 (error). Needs only Python 3.11+.",
    )
    parser.add_argument(
        "--server", required=True, help="The ScaleTest address, e.g. https://scaletest.example.com"
    )
    parser.add_argument("--plan", required=True, help="The test plan's id or exact name.")
    parser.add_argument(
        "--token",
        help=f"API token (default: the {TOKEN_ENV} environment variable, "
        "which keeps it out of process lists and CI logs).",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        help="Seconds to wait before cancelling the run (default: the run's planned duration + 180 s).",
    )
    parser.add_argument("--interval", type=float, default=5.0, help="Seconds between progress lines.")
    parser.add_argument("--junit-xml", dest="junit_xml", help="Write a JUnit XML report to this path.")
    add_annotation_arguments(parser)
    add_capacity_arguments(parser)
    args = parser.parse_args(argv)

    def emit(line: str) -> None:
        print(line, flush=True)

    return ci_run_remote(
        server=args.server,
        token=args.token if args.token is not None else os.environ.get(TOKEN_ENV, ""),
        plan=args.plan,
        timeout=args.timeout,
        interval=args.interval,
        junit_path=args.junit_xml,
        emit=emit,
        version=args.version,
        tags=args.tags,
        gate=CapacityGate(args.min_capacity, args.max_capacity_drop),
    )


def add_capacity_arguments(parser: Any) -> None:
    """The capacity gate of a capacity-search plan, the same for both entry points."""
    parser.add_argument(
        "--min-capacity",
        dest="min_capacity",
        type=float,
        help="Capacity-search plans: fail (exit 1) when the found capacity (users or iterations/s) "
        "is below this.",
    )
    parser.add_argument(
        "--max-capacity-drop",
        dest="max_capacity_drop",
        type=float,
        help="Capacity-search plans: fail (exit 1) when the capacity is more than this many percent below "
        "the plan's baseline search.",
    )


def add_annotation_arguments(parser: Any) -> None:
    """``--run-version`` and ``--tag``, the same for both entry points (Django commands own ``--version``)."""
    parser.add_argument(
        "--run-version",
        dest="version",
        default="",
        help="Version or commit under test (e.g. $GITHUB_SHA), "
        "stored on the run: filter and compare runs by it.",
    )
    parser.add_argument(
        "--tag",
        dest="tags",
        action="append",
        default=[],
        help="A tag for the run (repeatable), e.g. --tag nightly.",
    )


if __name__ == "__main__":
    sys.exit(main())
