"""Real Prometheus and node_exporter on loopback for the server-metrics tests.

Debian's packages (``prometheus``, ``prometheus-node-exporter``) are installed by the test
command (runs/management/services_check.py ``ensure_prometheus``); nothing here uses the
packages' own services or ports. Each helper starts its own process on a free loopback port
and stops it again:

- ``node_exporter_url()``: one node_exporter for the whole test session (started on first use,
  stopped when the session's interpreter exits), as ``http://127.0.0.1:PORT/metrics``.
- ``prometheus_server(urls)``: a Prometheus of the test's own, scraping each URL every
  ``interval_s`` seconds into a throw-away data dir, yielding its base URL.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from runs.management.services_check import ensure_prometheus, prometheus_paths
from tests.embedded import free_port

START_TIMEOUT_S = 30.0


class ServerDidNotStart(RuntimeError):
    pass


def _binaries() -> dict[str, str]:
    found = prometheus_paths()
    if found is None:
        ensure_prometheus()
        found = prometheus_paths()
    assert found is not None
    return found


def _wait_http_ok(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerDidNotStart(f"{url}: exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1.0) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    proc.kill()
    raise ServerDidNotStart(
        f"{url} did not answer within {START_TIMEOUT_S:.0f} s:\n{log.read_text()[-2000:]}"
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


_node_exporter: dict[str, object] = {}


def node_exporter_url() -> str:
    """The session's node_exporter, started on first use: ``http://127.0.0.1:PORT/metrics``."""
    url = _node_exporter.get("url")
    proc = _node_exporter.get("proc")
    if isinstance(url, str) and isinstance(proc, subprocess.Popen) and proc.poll() is None:
        return url
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="node-exporter-", suffix=".log")[1])
    new = subprocess.Popen(
        [_binaries()["prometheus-node-exporter"], f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    _wait_http_ok(url, new, log)
    atexit.register(_stop, new)
    _node_exporter.update(url=url, proc=new)
    return url


def scrape_config(urls: list[str], interval_s: float) -> dict[str, object]:
    """A Prometheus configuration scraping each URL as its own job (``job0``, ``job1``, ...)."""
    interval = f"{int(interval_s * 1000)}ms"
    jobs = []
    for index, url in enumerate(urls):
        parts = urllib.parse.urlsplit(url)
        job: dict[str, object] = {
            "job_name": f"job{index}",
            "scheme": parts.scheme or "http",
            "metrics_path": parts.path or "/metrics",
            "scrape_interval": interval,
            "scrape_timeout": interval,
            "static_configs": [{"targets": [parts.netloc]}],
        }
        if parts.query:
            job["params"] = {k: v for k, v in urllib.parse.parse_qs(parts.query).items()}
        jobs.append(job)
    return {"global": {"scrape_interval": interval, "evaluation_interval": interval}, "scrape_configs": jobs}


@contextlib.contextmanager
def prometheus_server(scrape_urls: list[str], interval_s: float = 1.0) -> Iterator[str]:
    """A real Prometheus on a free loopback port scraping ``scrape_urls``; yields its base URL
    (``http://127.0.0.1:PORT``), ready for ``/api/v1/query_range``. Stopped on exit."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="prometheus-") as tmp:
        config = Path(tmp) / "prometheus.yml"
        # JSON is YAML: no YAML writer needed.
        config.write_text(json.dumps(scrape_config(scrape_urls, interval_s)))
        log = Path(tmp) / "prometheus.log"
        proc = subprocess.Popen(
            [
                _binaries()["prometheus"],
                f"--config.file={config}",
                f"--storage.tsdb.path={Path(tmp) / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-lifecycle",
            ],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_http_ok(f"{base}/-/ready", proc, log)
            yield base
        finally:
            _stop(proc)


def wait_for_samples(
    base: str, query: str, *, at_least: int = 1, timeout_s: float = 20.0
) -> list[dict[str, Any]]:
    """Poll an instant query until it returns ``at_least`` series (Prometheus's first scrape
    happens up to one interval after start); returns the result vector."""
    deadline = time.monotonic() + timeout_s
    result: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        with urllib.request.urlopen(
            f"{base}/api/v1/query?{urllib.parse.urlencode({'query': query})}", timeout=5
        ) as r:
            body = json.load(r)
        result = body["data"]["result"]
        if len(result) >= at_least:
            return result
        time.sleep(0.2)
    raise AssertionError(f"{query!r}: {len(result)} series after {timeout_s} s at {base}")
