"""Static files as users get them: collected once, content-hashed, compressed, cached for good.

The session's collection (``collected_static`` in tests/conftest.py) is the one `manage.py up`
makes; pages link its hashed names, WhiteNoise serves them. The collection itself is exercised
on a small folder of its own, so its behaviour (skip when current, redo after a change, reuse
compressed copies) is checked without compressing Plotly again. Pages load Plotly's basic
bundle, kept at the installed plotly package's version and checked to draw every trace type
the pages' figures use.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any, cast

import brotli
import pytest
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage, staticfiles_storage
from django.test import Client
from django.urls import reverse

from runs.views.report import plotly_js_dir
from scaletest_site.staticfiles import static_collect, static_is_current
from tests.pages.test_analysis_pages import seed_run

ROOT = Path(__file__).resolve().parents[2]
PLOTLY = "vendor/plotly/plotly-basic.min.js"
PLOTLY_FILE = ROOT / "static" / PLOTLY
HASHED = re.compile(r"\.[0-9a-f]{12}\.[a-z0-9]+$")
STATIC_TAG = re.compile(r"""{%\s*static\s+['"]([^'"]+)['"]\s*%}""")
ONE_YEAR = 365 * 24 * 3600


def template_static_names() -> set[str]:
    """Every file a template of ours (or the API docs page, ninja's) names with {% static %}."""
    import ninja

    templates = [
        *(ROOT / "templates").rglob("*.html"),
        Path(ninja.__file__).parent / "templates/ninja/swagger.html",
    ]
    return {name for path in templates for name in STATIC_TAG.findall(path.read_text())}


def script_tags(html: str) -> list[str]:
    return re.findall(r"<script\b([^>]*)>", html)


def src_of(attrs: str) -> str:
    match = re.search(r'src="([^"]+)"', attrs)
    assert match, attrs
    return match.group(1)


def body(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


# ---- the manifest -------------------------------------------------------------------------


def test_every_static_file_a_template_names_is_collected_under_a_hashed_name(collected_static: Path) -> None:
    names = template_static_names()
    assert {PLOTLY, "js/charts.js", "css/app.css", "ninja/swagger-ui-bundle.js"} <= names
    for name in sorted(names):
        manifest = cast(ManifestStaticFilesStorage, staticfiles_storage)
        hashed = manifest.stored_name(name)  # ValueError: the manifest has no entry
        assert HASHED.search(hashed), (name, hashed)
        assert (collected_static / hashed).is_file(), hashed


# ---- what a page links and how it is served -------------------------------------------------


def test_a_chart_page_loads_every_script_deferred_by_hashed_name_plotly_first(
    alice_client: Client, finished_run: Any
) -> None:
    html = alice_client.get(reverse("runs-detail", args=[finished_run.pk])).content.decode()
    tags = script_tags(html)
    external = [attrs for attrs in tags if "src=" in attrs]
    # Everything else is data for charts.js: json_script blocks, which a browser never runs.
    assert all('type="application/json"' in attrs for attrs in tags if "src=" not in attrs)
    assert external and all(re.search(r"\sdefer(\s|$)", attrs) for attrs in external), external
    srcs = [src_of(attrs) for attrs in external]
    assert all(HASHED.search(src) for src in srcs), srcs
    # Deferred scripts run in document order: charts.js calls Plotly.
    order = [re.sub(r"\.[0-9a-f]{12}\.js$", ".js", src).rsplit("/", 1)[-1] for src in srcs]
    assert order.index("plotly-basic.min.js") < order.index("charts.js")


def test_static_files_are_served_compressed_and_cached_for_good(
    alice_client: Client, finished_run: Any
) -> None:
    html = alice_client.get(reverse("runs-detail", args=[finished_run.pk])).content.decode()
    plotly = next(src_of(a) for a in script_tags(html) if "plotly-basic" in a)
    link = re.search(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert link is not None, html
    css = link.group(1)
    source = PLOTLY_FILE.read_bytes()
    anonymous = Client()  # static files need no login

    served = anonymous.get(plotly, HTTP_ACCEPT_ENCODING="gzip, deflate, br, zstd")
    assert served.status_code == 200
    assert served["Content-Encoding"] == "br"
    cache = served["Cache-Control"]
    assert "immutable" in cache and "public" in cache
    max_age = re.search(r"max-age=(\d+)", cache)
    assert max_age is not None, cache
    assert int(max_age.group(1)) >= ONE_YEAR
    compressed = body(served)
    assert len(compressed) < len(source) / 3
    assert brotli.decompress(compressed) == source

    as_gzip = anonymous.get(plotly, HTTP_ACCEPT_ENCODING="gzip")
    assert as_gzip["Content-Encoding"] == "gzip"
    assert gzip.decompress(body(as_gzip)) == source
    plain = anonymous.get(plotly)
    assert "Content-Encoding" not in plain and body(plain) == source

    styles = anonymous.get(css, HTTP_ACCEPT_ENCODING="br")
    assert styles.status_code == 200 and styles["Content-Encoding"] == "br"
    assert "immutable" in styles["Cache-Control"]


@pytest.mark.slow
@pytest.mark.browser
def test_a_cold_browser_draws_the_run_page_from_compressed_scripts_and_then_from_its_cache(
    live_server: Any, alice_client: Client, finished_run: Any, browser_page: Any
) -> None:
    # (The database fixtures come before browser_page: Playwright's loop makes the ORM refuse.)
    page = browser_page
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    plotly_responses: list[Any] = []
    page.on("response", lambda r: plotly_responses.append(r) if "plotly-basic" in r.url else None)
    page.context.add_cookies(
        [{"name": "sessionid", "value": alice_client.cookies["sessionid"].value, "url": live_server.url}]
    )
    url = live_server.url + reverse("runs-detail", args=[finished_run.pk])
    charts = "#chart-rps .main-svg .trace, #chart-latency .main-svg .trace"

    page.goto(url)
    page.wait_for_selector(charts)
    [first] = plotly_responses
    headers = first.all_headers()
    assert headers["content-encoding"] == "br" and "immutable" in headers["cache-control"]
    entry = page.evaluate(
        "performance.getEntriesByType('resource').filter(e => e.name.includes('plotly-basic'))"
        ".map(e => ({encoded: e.encodedBodySize, decoded: e.decodedBodySize}))[0]"
    )
    assert entry["encoded"] < entry["decoded"] / 3

    # The next page that needs Plotly takes it from the browser's cache: no request at all.
    page.goto(url)
    page.wait_for_selector(charts)
    transferred = page.evaluate(
        "performance.getEntriesByType('resource').filter(e => e.name.includes('plotly-basic'))"
        ".map(e => e.transferSize)[0]"
    )
    assert transferred == 0
    assert errors == [], errors


# ---- Plotly's basic bundle -------------------------------------------------------------------


def plotly_version(path: Path) -> str:
    match = re.search(r"plotly\.js (?:\([a-z -]+\) )?v(\d+\.\d+\.\d+)", path.read_text()[:300])
    assert match, path
    return match.group(1)


def test_the_pages_plotly_bundle_has_the_installed_plotly_packages_version() -> None:
    package = plotly_version(plotly_js_dir() / "plotly.min.js")
    assert plotly_version(PLOTLY_FILE) == package, (
        f"the plotly package bundles plotly.js {package}: replace {PLOTLY_FILE.relative_to(ROOT)} with "
        f"plotly-basic.min.js of the npm package plotly.js-basic-dist-min@{package}"
    )


def test_the_basic_bundle_draws_every_trace_type_the_pages_figures_use(
    alice_client: Client, finished_run: Any, staircase_plan: Any
) -> None:
    registered = set(re.findall(r'moduleType:"trace",name:"(\w+)"', PLOTLY_FILE.read_text()))
    assert registered == {"scatter", "bar", "pie"}
    staircase = [seed_run(staircase_plan, seed=i) for i in range(2)]
    pages = [
        reverse("runs-detail", args=[finished_run.pk]),
        reverse("runs-detail", args=[staircase[0].pk]),  # capacity, USL, bottleneck charts
        reverse("runs-compare") + f"?ids={staircase[0].pk},{staircase[1].pk}",
        reverse("runs-plan-detail", args=[staircase_plan.pk]),
        reverse("runs-profile-edit", args=[staircase_plan.profile_id]),
    ]
    used: set[str] = set()
    figures = 0
    for url in pages:
        html = alice_client.get(url).content.decode()
        for blob in re.findall(r'<script id="[^"]+" type="application/json">(.*?)</script>', html, re.S):
            fig = json.loads(blob)
            if isinstance(fig, dict) and isinstance(fig.get("data"), list):
                figures += 1
                used |= {trace.get("type", "scatter") for trace in fig["data"]}
    assert figures >= 10
    assert used and used <= registered, used - registered


# ---- collecting once ------------------------------------------------------------------------


@pytest.fixture
def small_static(tmp_path: Path, settings: Any) -> tuple[Path, Path]:
    """A static folder of two compressible files, collected into a STATIC_ROOT of its own."""
    source = tmp_path / "source"
    (source / "js").mkdir(parents=True)
    (source / "js" / "a.js").write_text("var first = 1;\n" * 200)
    (source / "js" / "b.js").write_text("var second = 2;\n" * 200)
    settings.STATICFILES_DIRS = [source]
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    settings.STATIC_ROOT = tmp_path / "collected"
    return source, tmp_path / "collected"


def manifest_paths(root: Path) -> dict[str, str]:
    return json.loads((root / "staticfiles.json").read_text())["paths"]


def test_static_collect_collects_once_and_again_only_after_a_change(small_static: tuple[Path, Path]) -> None:
    source, root = small_static
    assert not static_is_current()
    logged: list[str] = []
    assert static_collect(log=logged.append) is True
    assert logged and str(root) in logged[0]
    paths = manifest_paths(root)
    a, b = paths["js/a.js"], paths["js/b.js"]
    for name, original in ((a, "a.js"), (b, "b.js")):
        data = (source / "js" / original).read_bytes()
        assert brotli.decompress((root / f"{name}.br").read_bytes()) == data
        assert gzip.decompress((root / f"{name}.gz").read_bytes()) == data
    # Pages link only hashed names: the originals are copied, not compressed.
    assert (root / "js" / "a.js").exists() and not (root / "js" / "a.js.gz").exists()
    assert static_is_current()

    b_copy = (root / f"{b}.br").stat().st_ino
    assert static_collect() is False  # nothing changed: nothing to do
    assert (root / f"{b}.br").stat().st_ino == b_copy

    (source / "js" / "a.js").write_text("var first = 3;\n" * 200)
    assert not static_is_current()
    assert static_collect() is True
    new_a = manifest_paths(root)["js/a.js"]
    assert new_a != a and (root / f"{new_a}.br").exists()
    assert (root / a).exists()  # a server started earlier keeps every file it indexed
    assert (root / f"{b}.br").stat().st_ino == b_copy  # unchanged files are not compressed again

    (root / new_a).unlink()  # a collection that lost a file is not current
    assert not static_is_current()
    assert static_collect() is True and (root / new_a).exists()
