"""Benchmark 3 (pages at scale) and 4a (storage per run-hour per endpoint).

Seeds the ``scaletest_bench`` PostgreSQL database with finished 1-hour runs at 1-second
resolution (RunSecond, EndpointSecond, EndpointSummary written with bulk_create, histograms
built from simulated latencies with runs.core.histogram's bucket layout), then measures:

* server time of the run page (``runs-detail``) and of the comparison page (``runs-compare``):
  Django test client, median of --repeat requests after one warm-up request;
* bytes of the HTML sent (no compression middleware is installed, so it goes as is);
* time until every chart is drawn in headless Chromium (Playwright), from navigation start to
  the frame in which each ``[data-figure]`` element holds a Plotly SVG; the page is served by
  gunicorn (1 sync worker), median of --repeat loads (plotly.min.js cached after the first);
* storage: pg_total_relation_size deltas of the result tables while one run is seeded, and
  pg_column_size sums of its rows, per run-hour per endpoint.

The simulated runs are a staircase (6 x 10 min, 20 -> 120 users, the capacity analysis'
heaviest path), per endpoint a log-normal latency whose median grows with the users, and
10-60 req/s per endpoint (about 700 req/s in all at 20 endpoints). The pages are those of the
benchmark team's admin (bench/common.py), the same for both databases: ``--db sqlite`` measures
the embedded default (a SQLite file, WAL), ``--db postgres`` (default) what teams deploy.

    .venv/bin/python bench/pages.py            # grid: compare 2/10/20 runs at 20 endpoints;
                                               # endpoints 1/20/100 at 1 run
    .venv/bin/python bench/pages.py --quick    # compare 2/10 runs at 20 endpoints; endpoints 1/20; 3 repeats
    .venv/bin/python bench/pages.py --smoke    # 2-minute runs: compare 2, endpoints 1, 1 repeat
                                               # (the test suite's size)
    .venv/bin/python bench/pages.py --db sqlite --quick
    .venv/bin/python bench/pages.py --no-browser
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
from simulated import SECONDS, SMOKE_SECONDS, plan_name, seed_run  # noqa: E402

TABLES = ("runs_runsecond", "runs_endpointsecond", "runs_endpointsummary")


def table_sizes() -> dict[str, int | None]:
    """On-disk bytes of each result table with its indexes (and TOAST on PostgreSQL).

    SQLite: the pages of the table's and its indexes' b-trees (the dbstat table; None where
    this SQLite was built without it)."""
    from django.db import OperationalError, connection

    with connection.cursor() as c:
        if common.db_vendor() == "postgresql":
            return {t: c.execute("SELECT pg_total_relation_size(%s)", [t]).fetchone()[0] for t in TABLES}
        try:
            return {
                t: c.execute(
                    "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN "
                    "(SELECT name FROM sqlite_master WHERE tbl_name = %s)",
                    [t],
                ).fetchone()[0]
                for t in TABLES
            }
        except OperationalError:
            return {t: None for t in TABLES}


def column_bytes(run_id: int) -> dict[str, tuple[int, int | None, int]]:
    """Per table: rows of the run, the bytes of those rows (PostgreSQL's pg_column_size; None
    on SQLite, which has no per-row size) and of their histograms (SQLite: the JSON text)."""
    from django.db import connection

    out = {}
    pg = common.db_vendor() == "postgresql"
    with connection.cursor() as c:
        for t in TABLES:
            if pg:
                c.execute(
                    f"SELECT count(*), coalesce(sum(pg_column_size(x.*)), 0), "
                    f"coalesce(sum(pg_column_size(x.histogram)), 0) FROM {t} x WHERE run_id = %s",
                    [run_id],
                )
            else:
                c.execute(
                    f"SELECT count(*), NULL, coalesce(sum(length(histogram)), 0) FROM {t} WHERE run_id = %s",
                    [run_id],
                )
            out[t] = c.fetchone()
    return out


def fmt_bytes(n: int | None) -> str:
    return "n/a" if n is None else f"{n:,}"


# -- measuring ---------------------------------------------------------------------------------
def server_time(client, url: str, repeat: int) -> tuple[float, int]:
    common.get_ok(client, url)  # warm-up: the first view stores the analysis / verdicts
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = common.get_ok(client, url)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000, len(r.content)


CHROMIUM = os.environ.get("SCALETEST_CHROMIUM", "/usr/bin/chromium")
DRAWN_JS = """() => {
  const els = Array.from(document.querySelectorAll('[data-figure]')).filter(el => {
    const src = document.getElementById(el.dataset.figure);
    return src && src.textContent.trim() !== 'null';
  });
  if (els.length === 0) return false;
  return els.every(el => el.querySelector('svg.main-svg')) ? {n: els.length, t: performance.now()} : false;
}"""


class Browser:
    def __init__(self, session_cookie: str) -> None:
        port = common.free_port()
        self.server = subprocess.Popen(
            [
                common.PY,
                "-m",
                "gunicorn",
                "scaletest_site.wsgi",
                "-w",
                "1",
                "-b",
                f"127.0.0.1:{port}",
                "--timeout",
                "120",
                "--log-level",
                "warning",
            ],
            cwd=str(common.BASE_DIR),
            env=os.environ.copy(),
        )
        try:
            common.wait_port(port, 30)
            self._start_browser(port, session_cookie)
        except BaseException:
            self.server.terminate()
            raise

    def _start_browser(self, port: int, session_cookie: str) -> None:
        from playwright.sync_api import sync_playwright

        if not os.path.exists(CHROMIUM):
            raise SystemExit(
                f"Chromium is missing at {CHROMIUM}: apt-get install -y chromium (or --no-browser)"
            )
        self.base = f"http://127.0.0.1:{port}"
        self.pw = sync_playwright().start()
        self.browser = self.pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        self.cookie = session_cookie

    def drawn_ms(self, path: str, repeat: int) -> tuple[float, int, int]:
        """Median ms from navigation start to all charts drawn; chart count; bytes of the first load.

        Each page gets a fresh browser context (empty cache), so the first load's bytes are
        everything the page needs (plotly.min.js included) whatever was measured before it;
        the later loads, which are timed, have plotly.min.js cached."""
        ctx = self.browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            ctx.add_cookies([{"name": "sessionid", "value": self.cookie, "url": self.base}])
            page = ctx.new_page()
            received: list = []
            page.on("response", lambda r: received.append(r))
            times, n = [], 0
            first_bytes = 0
            for i in range(repeat + 1):
                received.clear()
                response = page.goto(self.base + path, wait_until="commit", timeout=120_000)
                if response is None or response.status != 200 or response.url != self.base + path:
                    status = response and response.status
                    raise SystemExit(f"browser: {path} answered {status} at {response and response.url}")
                res = page.wait_for_function(DRAWN_JS, polling="raf", timeout=120_000).json_value()
                n = res["n"]
                if i == 0:
                    page.wait_for_load_state("load")
                    first_bytes = sum(len(r.body()) for r in received if r.ok)
                else:
                    times.append(res["t"])
        finally:
            ctx.close()
        return statistics.median(times), n, first_bytes

    def close(self) -> None:
        self.browser.close()
        self.pw.stop()
        self.server.terminate()
        self.server.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument(
        "--runs", default="2,10,20", help="comparison sizes at 20 endpoints (the page needs 2 or more)"
    )
    ap.add_argument("--endpoints", default="1,20,100", help="run-page sizes at 1 run")
    common.add_size_arguments(
        ap,
        smoke="2-minute runs, compare 2 runs, run page at 1 endpoint, 1 repeat",
        quick="compare 2/10 runs, run page at 1/20 endpoints, 3 repeats",
    )
    common.add_db_argument(ap)
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--reseed", action="store_true", help="delete earlier bench runs and seed again")
    args = ap.parse_args()
    seconds = SECONDS
    if args.quick:
        args.runs, args.endpoints, args.repeat = "2,10", "1,20", 3
    if args.smoke:
        args.runs, args.endpoints, args.repeat, seconds = "2", "1", 1, SMOKE_SECONDS
    # Playwright's sync API runs an event loop in this thread; the ORM calls made here between
    # page loads are plain synchronous ones, so Django's async guard does not apply.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    common.django_setup(db=args.db)
    common.print_machine()
    print(f"database: {args.db} ({common.database_url(args.db)})")
    from django.urls import reverse

    from runs.models import Run

    runs_axis = [int(x) for x in args.runs.split(",") if x]
    eps_axis = [int(x) for x in args.endpoints.split(",") if x]
    if args.reseed:
        Run.objects.filter(generator_host="bench").delete()

    def seeded(endpoints: int, count: int) -> list[int]:
        have = list(
            Run.objects.filter(plan_name=plan_name(endpoints, seconds), status="finished")
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        while len(have) < count:
            t0 = time.monotonic()
            before = table_sizes()
            pk = seed_run(endpoints=endpoints, seed=endpoints * 1000 + len(have), seconds=seconds)
            after = table_sizes()
            storage[endpoints] = (
                pk,
                {t: None if (a := after[t]) is None or (b := before[t]) is None else a - b for t in TABLES},
            )
            print(
                f"seeded run {pk} ({endpoints} endpoints, {seconds} s) in {time.monotonic() - t0:.1f} s",
                flush=True,
            )
            have.append(pk)
        return have[:count]

    storage: dict[int, tuple[int, dict[str, int | None]]] = {}
    ids20 = seeded(20, max(runs_axis, default=0))
    ids_by_eps = {e: seeded(e, 1) for e in eps_axis}

    client = common.bench_client()
    session = client.cookies["sessionid"].value
    browser = None if args.no_browser else Browser(session)
    results = []
    try:
        for e in eps_axis:
            path = reverse("runs-detail", args=[ids_by_eps[e][0]])
            ms, size = server_time(client, path, args.repeat)
            drawn = browser.drawn_ms(path, args.repeat) if browser else (float("nan"), 0, 0)
            results.append(("run page", f"1 run, {e} endpoints", ms, size, drawn))
            print(results[-1], flush=True)
        for n in runs_axis:
            path = reverse("runs-compare") + "?ids=" + ",".join(str(i) for i in ids20[:n])
            ms, size = server_time(client, path, args.repeat)
            drawn = browser.drawn_ms(path, args.repeat) if browser else (float("nan"), 0, 0)
            results.append(("compare", f"{n} runs x 20 endpoints", ms, size, drawn))
            print(results[-1], flush=True)
    finally:
        if browser:
            browser.close()

    length = "1-hour" if seconds == SECONDS else f"{seconds}-s"
    print(
        f"\n{args.db}, {length} runs; medians of {args.repeat} (after a warm-up); "
        "goals: server <= 300 ms, HTML <= 2 MB, charts <= 2 s"
    )
    print(
        "| page | data | server time (ms) | HTML bytes | charts drawn (ms) | charts | first load, all bytes |"
    )
    print("|---|---|---|---|---|---|---|")
    for page, data, ms, size, (drawn_ms, n, first) in results:
        print(f"| {page} | {data} | {ms:.0f} | {size:,} | {drawn_ms:.0f} | {n} | {first:,} |")

    if not storage:
        return
    size_name = (
        "pg_total_relation_size" if common.db_vendor() == "postgresql" else "dbstat pages (table + indexes)"
    )
    print(
        f"\nstorage of the runs seeded now ({args.db}, {length}, 1-second resolution; scaled to a run-hour)"
    )
    print(
        f"| endpoints | table | rows | sum pg_column_size (bytes) | of which histogram | "
        f"{size_name} delta | per run-hour per endpoint (delta, all tables) |"
    )
    print("|---|---|---|---|---|---|---|")
    for e, (pk, delta) in sorted(storage.items()):
        cols = column_bytes(pk)
        known = [d for d in delta.values() if d is not None]
        per = sum(known) * SECONDS / seconds / e if len(known) == len(TABLES) else None
        per_text = "n/a" if per is None else f"{per:,.0f} B ({per / 1e6:.2f} MB)"
        for t in TABLES:
            rows, row_bytes, hist = cols[t]
            print(
                f"| {e} | {t} | {rows:,} | {fmt_bytes(row_bytes)} | "
                f"{hist:,} | {fmt_bytes(delta[t])} | {per_text} |"
            )


if __name__ == "__main__":
    main()
