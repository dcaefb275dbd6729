"""Benchmark 7: the first chart page on a cold browser cache, before and after a change.

What a newcomer sees after `manage.py up` and the demo plan: a real server started as `up`
starts it (gunicorn, 2 workers x 4 threads, SQLite in a temporary data dir) with one finished,
analysed run shaped like the demo's (staircase 2 -> 22 users, 6 x 10 s, GET slots flattening at
160 req/s), opened in headless Chromium with an empty profile (a new user-data dir per load: no
HTTP cache, no compiled-code cache). Per load:

* charts drawn: ms from navigation start until every chart of the page ([data-figure] with a
  figure) holds a Plotly .main-svg with its traces, polled on every animation frame;
* bytes transferred: the sum of every response's encodedDataLength (DevTools protocol: bytes
  on the wire, headers included), and Plotly's share (the pages' bundle under
  /static/vendor/plotly/) with its Content-Encoding and Cache-Control;
* where the time goes: when the page and Plotly were received, DOMContentLoaded (deferred
  scripts run, charts drawn by its handler), and the main thread's busy time (DevTools
  Performance metrics TaskDuration and ScriptDuration), which a busy machine inflates less than
  wall time.

Each server answers the page four times before the first load, so that the figures are about
the browser's cold cache, not a gunicorn worker's first request.

Two servers side by side, loads alternated (A, B, A, B...), medians of --repeat each:
"before" is the code at --before (`git archive` into a temporary folder; default d7ac57e, the
last commit that served the full plotly.min.js from the finders, uncompressed, cached 60 s,
scripts not deferred), "after" this checkout, with its static files collected as `up` collects
them (STATIC_ROOT: the environment's SCALETEST_STATIC_ROOT, else var/static, shared with `up`).
Both read the same database, migrated by this checkout; a --before older than that schema
(d7ac57e predates 0017, histograms as bytes) cannot read it, so the script then says so and
measures this checkout only. The figures in docs/benchmarks.md section 7 predate 0017.

    .venv/bin/python bench/first_page.py                 # 7 cold loads per side
    .venv/bin/python bench/first_page.py --repeat 15
    .venv/bin/python bench/first_page.py --no-before     # this checkout only
    .venv/bin/python bench/first_page.py --smoke         # the whole path, one load per side
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import numpy as np  # noqa: E402

DEFAULT_BEFORE = "d7ac57e"
SECONDS, STEP_SECONDS = 60, 10
CHROMIUM = "/usr/bin/chromium"
# As tests/conftest.py launches it: no calls to Google's services, which this machine refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DRAWN_JS = """() => {
  const els = Array.from(document.querySelectorAll('[data-figure]')).filter(el => {
    const src = document.getElementById(el.dataset.figure);
    return src && src.textContent.trim() !== 'null';
  });
  if (els.length === 0) return false;
  const drawn = els.every(el => {
    const fig = JSON.parse(document.getElementById(el.dataset.figure).textContent);
    const svg = el.querySelector('.main-svg');
    return svg && (!(fig.data || []).length || el.querySelectorAll('.main-svg .trace').length > 0);
  });
  if (!drawn) return false;
  const nav = performance.getEntriesByType('navigation')[0];
  const plotly = performance.getEntriesByType('resource').find(e => e.name.includes('/vendor/plotly/'));
  return {n: els.length, t: performance.now(), html: nav.responseEnd, dcl: nav.domContentLoadedEventEnd,
          plotly: plotly ? plotly.responseEnd : null};
}"""


# -- the data -----------------------------------------------------------------------------------
def setup_django(data_dir: Path, secret_key: str) -> None:
    os.environ.update(
        SCALETEST_DATA_DIR=str(data_dir),
        DATABASE_URL=f"sqlite:///{data_dir / 'scaletest.sqlite3'}",
        SECRET_KEY=secret_key,
        SCALETEST_NO_BOOTSTRAP="1",
        DEBUG="false",
        DJANGO_SETTINGS_MODULE="scaletest_site.settings",
    )
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
    os.environ.setdefault("SCALETEST_STATIC_ROOT", str(common.BASE_DIR / "var" / "static"))
    sys.path.insert(0, str(common.BASE_DIR))
    os.chdir(common.BASE_DIR)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def seed_demo_run(*, seed: int = 7) -> tuple[int, str]:
    """A finished, analysed run shaped like the demo plan's; returns its id and a session key."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone
    from simulated import second_histograms

    from runs.core.histogram import Histogram
    from runs.models import EndpointSecond, EndpointSummary, Membership, Run, RunSecond
    from runs.services.analysis import run_analyse

    rng = np.random.default_rng(seed)
    t = np.arange(SECONDS)
    users = 2 + 4 * (t // STEP_SECONDS)
    # The demo target: 8 slots held 50 ms each, so 20 req/s per user up to 160 req/s, then queueing.
    sec = np.repeat(t, rng.poisson(np.minimum(users * 20, 160)))
    median_ms = 50 * np.maximum(1.0, users[sec] / 8)
    us = rng.lognormal(np.log(median_ms * 1000), 0.15).astype(np.int64)
    per_second = second_histograms(sec, us, SECONDS)

    team = common.bench_team()
    user, _ = get_user_model().objects.get_or_create(username="bench")
    Membership.objects.get_or_create(team=team, user=user, defaults={"role": Membership.Role.ADMIN})
    snapshot = common.make_snapshot(
        "http://127.0.0.1:8089", [{"path": "/slots", "name": "slots"}], users=22, duration=SECONDS
    )
    snapshot["profile"].update(
        kind="staircase",
        params={
            "start_users": 2,
            "step_users": 4,
            "step_duration": STEP_SECONDS,
            "steps": 6,
            "spawn_rate": None,
        },
        peak_users=22,
    )
    end = timezone.now()
    start = end - dt.timedelta(seconds=SECONDS)
    run = Run.objects.create(
        team=team,
        plan=None,
        plan_name="Demo: find the plateau",
        snapshot=snapshot,
        planned_seconds=SECONDS,
        status=Run.Status.FINISHED,
        started_at=start,
        finished_at=end,
        heartbeat_at=end,
        generator_host="bench",
        locust_version="2.47.0",
        last_t=SECONDS - 1,
    )
    total = Histogram()
    rows, endpoint_rows = [], []
    for second, h in enumerate(per_second):
        n = h["n"] if h else 0
        figures = {k: h[k] if h else None for k in ("p50", "p95", "p99", "max")}
        rows.append(
            RunSecond(
                run=run,
                t=second,
                users=int(users[second]),
                requests=n,
                bytes=n * 200,
                cpu_percent=20.0,
                p50_ms=figures["p50"],
                p95_ms=figures["p95"],
                p99_ms=figures["p99"],
                max_ms=figures["max"],
                mean_ms=h["mean"] if h else None,
                histogram=h["hist"] if h else {},
            )
        )
        if h:
            endpoint_rows.append(
                EndpointSecond(
                    run=run,
                    t=second,
                    method="GET",
                    name="slots",
                    requests=n,
                    bytes=n * 200,
                    p50_ms=h["p50"],
                    p95_ms=h["p95"],
                    p99_ms=h["p99"],
                    max_ms=h["max"],
                    histogram=h["hist"],
                )
            )
            total.merge(Histogram.from_dict(h["hist"]))
    RunSecond.objects.bulk_create(rows)
    EndpointSecond.objects.bulk_create(endpoint_rows)
    ps = total.percentiles_ms((50, 90, 95, 99))
    EndpointSummary.objects.create(
        run=run,
        method="GET",
        name="slots",
        requests=total.total,
        bytes=total.total * 200,
        rps=total.total / SECONDS,
        histogram=total.to_dict(),
        p50_ms=ps[50],
        p90_ms=ps[90],
        p95_ms=ps[95],
        p99_ms=ps[99],
        max_ms=total.max_ms,
        mean_ms=total.mean_ms,
    )
    Run.objects.filter(pk=run.pk).update(
        total_requests=total.total,
        total_bytes=total.total * 200,
        p50_ms=ps[50],
        p95_ms=ps[95],
        p99_ms=ps[99],
        max_ms=total.max_ms,
    )
    run_analyse(run_id=run.pk)
    client = Client()
    client.force_login(user)
    return run.pk, client.cookies["sessionid"].value


# -- the servers --------------------------------------------------------------------------------
@dataclass
class Side:
    name: str
    code: str  # commit or "this checkout"
    cwd: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    base: str = ""
    loads: list[dict[str, Any]] = field(default_factory=list)

    def start(self, log_dir: Path) -> None:
        port = common.free_port()
        log = (log_dir / f"gunicorn-{self.name}.log").open("wb")
        # As `manage.py up` starts the web server.
        self.proc = subprocess.Popen(
            [
                common.PY,
                "-m",
                "gunicorn",
                "scaletest_site.wsgi",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                "2",
                "--threads",
                "4",
                "--access-logfile",
                "-",
                "--graceful-timeout",
                "5",
            ],
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.base = f"http://127.0.0.1:{port}"

    def warm_up(self, path: str, session_key: str) -> None:
        """A few requests of the page first, so each gunicorn worker has imported and connected:
        the benchmark is about the browser's cold cache, not the server's first request."""
        common.wait_port(int(self.base.rsplit(":", 1)[1]), 60)
        request = urllib.request.Request(self.base + path, headers={"Cookie": f"sessionid={session_key}"})
        for _ in range(4):
            with urllib.request.urlopen(request, timeout=60) as response:
                assert response.status == 200 and b"data-figure" in response.read(), (
                    "the run page did not render"
                )

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def newer_migrations(tree: Path) -> list[str]:
    """This checkout's migrations that the code in ``tree`` does not have."""
    mine = {m.name for m in (common.BASE_DIR / "runs" / "migrations").glob("0*.py")}
    theirs = {m.name for m in (tree / "runs" / "migrations").glob("0*.py")}
    return sorted(m.removesuffix(".py") for m in mine - theirs)


def export_commit(ref: str, into: Path) -> str | None:
    """The tree of ``ref`` in ``into`` (git archive); its short hash, or None when it is unknown."""
    found = subprocess.run(
        ["git", "-C", str(common.BASE_DIR), "rev-parse", "--short", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
    )
    if found.returncode != 0:
        return None
    archive = into.with_suffix(".tar")
    subprocess.run(
        ["git", "-C", str(common.BASE_DIR), "archive", "--format=tar", "-o", str(archive), ref], check=True
    )
    into.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    archive.unlink()
    return found.stdout.strip()


# -- the browser --------------------------------------------------------------------------------
def cold_load(pw: Any, side: Side, path: str, session_key: str) -> dict[str, Any]:
    """One load in a new Chromium profile: ms to charts drawn, bytes on the wire."""
    with tempfile.TemporaryDirectory(prefix="scaletest-bench-profile-") as profile:
        ctx = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            ctx.add_cookies([{"name": "sessionid", "value": session_key, "url": side.base}])
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            cdp = ctx.new_cdp_session(page)
            urls: dict[str, str] = {}
            headers: dict[str, dict[str, str]] = {}
            wire: dict[str, int] = {}

            def on_response(e: dict[str, Any]) -> None:
                urls[e["requestId"]] = e["response"]["url"]
                headers[e["requestId"]] = e["response"]["headers"]

            cdp.on("Network.responseReceived", on_response)
            cdp.on(
                "Network.loadingFinished",
                lambda e: wire.__setitem__(e["requestId"], int(e["encodedDataLength"])),
            )
            cdp.send("Network.enable")
            cdp.send("Performance.enable")
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(side.base + path, wait_until="commit", timeout=60_000)
            drawn = page.wait_for_function(DRAWN_JS, polling="raf", timeout=60_000).json_value()
            page.wait_for_load_state("load", timeout=60_000)
            # Main-thread time spent running tasks (parsing and running scripts, style, layout,
            # paint) until now: the page's CPU cost, which waiting for a busy machine's cores
            # does not inflate the way it inflates wall time.
            metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
            time.sleep(0.2)  # the last loadingFinished events
            plotly = [rid for rid, url in urls.items() if "/vendor/plotly/" in url]
            plotly_headers = {k.lower(): v for k, v in headers.get(plotly[0], {}).items()} if plotly else {}
            return {
                "ms": float(drawn["t"]),
                "html_ms": float(drawn["html"]),
                "plotly_ms": float(drawn["plotly"] or 0),
                "dcl_ms": float(drawn["dcl"]),
                "busy_ms": metrics.get("TaskDuration", 0.0) * 1000,
                "script_ms": metrics.get("ScriptDuration", 0.0) * 1000,
                "charts": int(drawn["n"]),
                "bytes": sum(wire.values()),
                "requests": len(wire),
                "plotly_bytes": sum(wire.get(rid, 0) for rid in plotly),
                "encoding": plotly_headers.get("content-encoding", "identity"),
                "cache": plotly_headers.get("cache-control", "-"),
                "errors": errors,
            }
        finally:
            ctx.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=7, help="cold loads per side (default 7)")
    ap.add_argument(
        "--before", default=DEFAULT_BEFORE, help=f"commit to compare with (default {DEFAULT_BEFORE})"
    )
    ap.add_argument("--no-before", action="store_true", help="measure this checkout only")
    ap.add_argument("--smoke", action="store_true", help="the whole path once per side, in seconds")
    args = ap.parse_args()
    repeat = 1 if args.smoke else args.repeat

    work = Path(tempfile.mkdtemp(prefix="scaletest-bench-first-page-"))
    secret_key = secrets.token_urlsafe(40)
    started = time.monotonic()
    sides: list[Side] = []
    try:
        setup_django(work / "data", secret_key)
        common.print_machine()
        from django.conf import settings

        from scaletest_site.staticfiles import static_collect

        print(f"[{time.monotonic() - started:.1f} s] database migrated", flush=True)
        run_id, session_key = seed_demo_run()
        collected = static_collect(log=print)
        print(
            f"[{time.monotonic() - started:.1f} s] run {run_id} seeded and analysed; static files in "
            f"{settings.STATIC_ROOT} ({'collected' if collected else 'current'})",
            flush=True,
        )
        path = f"/runs/{run_id}/"
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_ALLOW")}
        if not args.no_before:
            commit = export_commit(args.before, work / "before")
            newer = newer_migrations(work / "before") if commit is not None else []
            if commit is None:
                print(f"note: {args.before} is not in this repository: measuring this checkout only")
            elif newer:
                # Both sides share the database this checkout migrated and seeded: code older than
                # its schema cannot read it (0017 stores histograms as bytes, not JSON).
                print(
                    f"note: {args.before} predates migrations {', '.join(newer)} of the shared "
                    "database: measuring this checkout only (pass a newer --before to compare)"
                )
            else:
                # Its own data dir; the same database.
                env = dict(
                    base_env,
                    SCALETEST_DATA_DIR=str(work / "before-data"),
                    SCALETEST_STATIC_ROOT=str(work / "before-data" / "static"),
                )
                if (work / "before" / "scaletest_site" / "staticfiles.py").exists():
                    # Code that collects (hashed names): its own collection, started from hard links
                    # of this checkout's, so that compressed copies of unchanged files are reused.
                    shutil.copytree(settings.STATIC_ROOT, env["SCALETEST_STATIC_ROOT"], copy_function=os.link)
                    subprocess.run(
                        [
                            common.PY,
                            "manage.py",
                            "shell",
                            "-c",
                            "from scaletest_site.staticfiles import static_collect; "
                            "static_collect(log=print)",
                        ],
                        cwd=work / "before",
                        env=env,
                        check=True,
                    )
                sides.append(Side("before", commit, work / "before", env))
        head = subprocess.run(
            ["git", "-C", str(common.BASE_DIR), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(common.BASE_DIR), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        sides.append(
            Side(
                "after",
                head + (" (+ uncommitted changes)" if dirty else ""),
                common.BASE_DIR,
                dict(base_env, SCALETEST_DATA_DIR=str(work / "data")),
            )
        )
        for side in sides:
            side.start(work)
        for side in sides:
            side.warm_up(path, session_key)
        print(
            f"[{time.monotonic() - started:.1f} s] servers up: "
            + ", ".join(f"{s.name} {s.base}" for s in sides),
            flush=True,
        )

        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            for _ in range(repeat):
                for side in sides:
                    load = cold_load(pw, side, path, session_key)
                    side.loads.append(load)
                    print(
                        f"{side.name}: charts {load['ms']:.0f} ms "
                        f"(page received {load['html_ms']:.0f}, plotly "
                        f"received {load['plotly_ms']:.0f}, DOMContentLoaded {load['dcl_ms']:.0f}; "
                        "main thread busy "
                        f"{load['busy_ms']:.0f}, scripts {load['script_ms']:.0f}), "
                        f"{load['bytes']:,} B, plotly {load['plotly_bytes']:,} B ({load['encoding']}), "
                        f"errors {len(load['errors'])}",
                        flush=True,
                    )
    finally:
        for side in sides:
            side.stop()
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"\nfirst chart page (run page, {SECONDS} s demo-shaped run), cold Chromium profile per load; "
        f"medians of {repeat} alternating loads; goal: charts drawn <= 1000 ms"
    )
    print(
        f"loadavg at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        f"; wall {time.monotonic() - started:.0f} s"
    )
    print(
        "| side | code | loads | charts drawn (ms, median) | min-max (ms) | page received (ms) | "
        "plotly received (ms) | DOMContentLoaded (ms) | main thread busy (ms) | of which scripts (ms) | "
        "bytes transferred (median) | Plotly on the wire | "
        "plotly Content-Encoding | plotly Cache-Control | page errors |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for side in sides:
        ms = [load["ms"] for load in side.loads]
        first = side.loads[0]

        def med(key: str, loads: list[dict[str, Any]] = side.loads) -> float:
            return common.median([load[key] for load in loads])

        print(
            f"| {side.name} | {side.code} | {len(ms)} | {med('ms'):.0f} | {min(ms):.0f}-{max(ms):.0f} | "
            f"{med('html_ms'):.0f} | {med('plotly_ms'):.0f} | {med('dcl_ms'):.0f} | {med('busy_ms'):.0f} | "
            f"{med('script_ms'):.0f} | {med('bytes'):,.0f} | "
            f"{first['plotly_bytes']:,} | {first['encoding']} | {first['cache']} | "
            f"{sum(len(load['errors']) for load in side.loads)} |"
        )
    if len(sides) == 2:
        before, after = (common.median([load["ms"] for load in side.loads]) for side in sides)
        print(f"\nafter / before (charts drawn): {after / before:.2f}")


if __name__ == "__main__":
    main()
