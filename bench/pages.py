"""Benchmark 3 (pages at scale) and 4a (storage per run-hour per endpoint).

Seeds the ``scaletest_bench`` PostgreSQL database with finished 1-hour runs at 1-second
resolution (RunSecond, EndpointSecond, EndpointSummary written with bulk_create, histograms
built from simulated latencies with runs.histogram's bucket layout), then measures:

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
10-60 req/s per endpoint (about 700 req/s in all at 20 endpoints).

    .venv/bin/python bench/pages.py            # grid: compare 2/10/20 runs at 20 endpoints; endpoints 1/20/100 at 1 run
    .venv/bin/python bench/pages.py --quick    # compare 2/10 runs at 20 endpoints; endpoints 1/20
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
import numpy as np  # noqa: E402
from simulated import SECONDS, store_run, users_at  # noqa: E402

TABLES = ("runs_runsecond", "runs_endpointsecond", "runs_endpointsummary")


def simulate(endpoints: int, seed: int):
    rng = np.random.default_rng(seed)
    t_all = np.arange(SECONDS)
    users = users_at(t_all)
    per_ep = []
    for e in range(endpoints):
        rate = rng.uniform(10, 60) * users / 120  # req/s grows with the users
        n = rng.poisson(rate)
        sec = np.repeat(t_all, n)
        median_ms = rng.uniform(5, 150) * (1 + (users_at(sec) / 120) ** 3)
        us = (rng.lognormal(np.log(median_ms * 1000), 0.6)).astype(np.int64) + 200
        per_ep.append((sec, us))
    return users, per_ep


def seed_run(*, endpoints: int, seed: int) -> int:
    _, per_ep = simulate(endpoints, seed)
    return store_run(per_ep=per_ep, plan_name=f"bench {endpoints} endpoints", generator_host="bench")


def table_sizes() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as c:
        return {t: c.execute("SELECT pg_total_relation_size(%s)", [t]).fetchone()[0] for t in TABLES}


def column_bytes(run_id: int) -> dict[str, float]:
    from django.db import connection

    out = {}
    with connection.cursor() as c:
        for t in TABLES:
            c.execute(f"SELECT count(*), coalesce(sum(pg_column_size(x.*)), 0), "
                      f"coalesce(sum(pg_column_size(x.histogram)), 0) FROM {t} x WHERE run_id = %s", [run_id])
            out[t] = c.fetchone()
    return out


# -- measuring ---------------------------------------------------------------------------------
def server_time(client, url: str, repeat: int) -> tuple[float, int]:
    r = client.get(url)
    assert r.status_code == 200, (url, r.status_code)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = client.get(url)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000, len(r.content)


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
        from playwright.sync_api import sync_playwright

        port = common.free_port()
        self.server = subprocess.Popen(
            [common.PY, "-m", "gunicorn", "scaletest_site.wsgi", "-w", "1", "-b", f"127.0.0.1:{port}",
             "--timeout", "120", "--log-level", "warning"],
            cwd=str(common.BASE_DIR), env=os.environ.copy(),
        )
        try:
            common.wait_port(port, 30)
            self._start_browser(port, session_cookie)
        except BaseException:
            self.server.terminate()
            raise

    def _start_browser(self, port: int, session_cookie: str) -> None:
        from playwright.sync_api import sync_playwright

        self.base = f"http://127.0.0.1:{port}"
        self.pw = sync_playwright().start()
        self.browser = self.pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        self.ctx = self.browser.new_context(viewport={"width": 1400, "height": 1000})
        self.ctx.add_cookies([{"name": "sessionid", "value": session_cookie, "url": self.base}])
        self.page = self.ctx.new_page()
        self.received: list = []
        self.page.on("response", lambda r: self.received.append(r))

    def drawn_ms(self, path: str, repeat: int) -> tuple[float, int, int]:
        """Median ms from navigation start to all charts drawn; chart count; bytes of the first load."""
        received = self.received
        times, n = [], 0
        first_bytes = 0
        for i in range(repeat + 1):
            received.clear()
            self.page.goto(self.base + path, wait_until="commit", timeout=120_000)
            res = self.page.wait_for_function(DRAWN_JS, polling="raf", timeout=120_000).json_value()
            n = res["n"]
            if i == 0:
                self.page.wait_for_load_state("load")
                first_bytes = sum(len(r.body()) for r in received if r.ok)
            else:
                times.append(res["t"])
        return statistics.median(times), n, first_bytes

    def close(self) -> None:
        self.browser.close()
        self.pw.stop()
        self.server.terminate()
        self.server.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--runs", default="2,10,20", help="comparison sizes at 20 endpoints (the page needs 2 or more)")
    ap.add_argument("--endpoints", default="1,20,100", help="run-page sizes at 1 run")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--reseed", action="store_true", help="delete earlier bench runs and seed again")
    args = ap.parse_args()
    if args.quick:
        args.runs, args.endpoints, args.repeat = "2,10", "1,20", 3
    # Playwright's sync API runs an event loop in this thread; the ORM calls made here between
    # page loads are plain synchronous ones, so Django's async guard does not apply.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    common.django_setup()
    common.print_machine()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from runs.models import Run

    runs_axis = [int(x) for x in args.runs.split(",")]
    eps_axis = [int(x) for x in args.endpoints.split(",") if x]
    if args.reseed:
        Run.objects.filter(generator_host="bench").delete()

    def seeded(endpoints: int, count: int) -> list[int]:
        have = list(
            Run.objects.filter(plan_name=f"bench {endpoints} endpoints", status="finished").order_by("pk")
            .values_list("pk", flat=True)
        )
        while len(have) < count:
            t0 = time.monotonic()
            before = table_sizes()
            pk = seed_run(endpoints=endpoints, seed=endpoints * 1000 + len(have))
            after = table_sizes()
            storage[endpoints] = (pk, {t: after[t] - before[t] for t in TABLES})
            print(f"seeded run {pk} ({endpoints} endpoints) in {time.monotonic() - t0:.1f} s", flush=True)
            have.append(pk)
        return have[:count]

    storage: dict[int, tuple[int, dict[str, int]]] = {}
    ids20 = seeded(20, max(runs_axis))
    ids_by_eps = {e: seeded(e, 1) for e in eps_axis}

    user, _ = get_user_model().objects.get_or_create(username="bench")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
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

    print(f"\nmedians of {args.repeat} (after a warm-up); goals: server <= 300 ms, HTML <= 2 MB, charts <= 2 s")
    print("| page | data | server time (ms) | HTML bytes | charts drawn (ms) | charts | first load, all bytes |")
    print("|---|---|---|---|---|---|---|")
    for page, data, ms, size, (drawn, n, first) in results:
        print(f"| {page} | {data} | {ms:.0f} | {size:,} | {drawn:.0f} | {n} | {first:,} |")

    print("\nstorage of the seeded runs (1 hour, 1-second resolution)")
    print("| endpoints | table | rows | sum pg_column_size (bytes) | of which histogram | "
          "pg_total_relation_size delta | per run-hour per endpoint (delta, all tables) |")
    print("|---|---|---|---|---|---|---|")
    for e, (pk, delta) in sorted(storage.items()):
        cols = column_bytes(pk)
        total = sum(delta.values())
        for t in TABLES:
            rows, size, hist = cols[t]
            print(f"| {e} | {t} | {rows:,} | {size:,} | {hist:,} | {delta[t]:,} | "
                  f"{(total / e):,.0f} B ({total / e / 1e6:.2f} MB) |")


if __name__ == "__main__":
    main()
