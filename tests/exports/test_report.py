"""The HTML report builder, without a database (the browser checks are in test_report_browser)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from html.parser import HTMLParser
from typing import Any

from runs.core.exports.redact import REDACTED
from runs.selectors.export import RunReport
from runs.views.report import Assets, inline_script, report_assets, report_html

START = dt.datetime(2026, 11, 25, 10, 0, 0, tzinfo=dt.UTC)
PAYLOAD = "</script><script>window.__xss = 1</script><img src=x onerror=alert(1)>"


def header(**extra: Any) -> dict[str, Any]:
    return {
        "id": 5,
        "plan_id": 1,
        "plan_name": "Plan " + PAYLOAD,
        "status": "finished",
        "status_label": "Finished",
        "is_active": False,
        "open_model": False,
        "started_at": START,
        "finished_at": START + dt.timedelta(seconds=3),
        "duration_seconds": 3.0,
        "total_requests": 30,
        "total_failures": 1,
        "error_rate": 1 / 30,
        "mean_rps": 10.0,
        "p50_ms": 1.0,
        "p95_ms": 2.0,
        "p99_ms": 3.0,
        "max_ms": 4.0,
        "last_t": 2,
        "locust_version": "2.47.0",
        "generator_host": "gen",
        "error_message": "",
        **extra,
    }


def report(**extra: Any) -> RunReport:
    fields: dict[str, Any] = {
        "run": header(),
        "snapshot": {
            "target": {
                "name": "T",
                "base_url": "http://127.0.0.1:9",
                "auth_type": "bearer",
                "auth_token": "tok-secret-9",
                "headers": {"Authorization": "Bearer hdr-secret-8"},
            },
            "scenario": {
                "name": "S",
                "steps": [
                    {
                        "name": "n",
                        "method": "GET",
                        "path": "/",
                        "headers": {"X-Api-Key": "key-secret-7"},
                        "query": {},
                        "weight": 1,
                    }
                ],
            },
            "profile": {
                "name": "P",
                "kind": "constant",
                "params": {"users": 2, "duration": 3},
                "duration": 3,
            },
        },
        "seconds": [
            {
                "t": t,
                "users": 2,
                "requests": 10,
                "failures": 0,
                "dropped_iterations": 0,
                "p50_ms": 1.0,
                "p95_ms": 2.0,
                "p99_ms": 3.0,
            }
            for t in range(3)
        ],
        "planned": ([0, 3], [2, 2]),
        "endpoints": [
            {
                "method": "GET",
                "name": PAYLOAD,
                "requests": 30,
                "failures": 1,
                "p50_ms": 1.0,
                "p90_ms": 1.5,
                "p95_ms": 2.0,
                "p99_ms": 3.0,
                "max_ms": 4.0,
                "rps": 10.0,
            }
        ],
        "errors": [
            {
                "method": "GET",
                "name": PAYLOAD,
                "error_class": "HTTPError",
                "message": PAYLOAD,
                "count": 1,
                "first_seen": START,
                "last_seen": START,
            }
        ],
        "analysis": None,
    }
    fields.update(extra)
    return RunReport(**fields)


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def parsed(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


def test_nothing_in_the_report_points_at_the_network() -> None:
    tags = parsed(report_html(report()))
    urls = [
        (t, a.get(k)) for t, a in tags.tags for k in ("src", "href", "action", "data", "poster") if a.get(k)
    ]
    assert not [u for u in urls if re.match(r"\s*(https?:)?//", u[1] or "", re.I)], urls
    assert not [t for t, a in tags.tags if t in ("link", "iframe", "object", "embed", "base")]


def test_plotly_charts_js_and_css_are_inlined_and_allowed_by_hash_only() -> None:
    assets = report_assets()
    html = report_html(report())
    tags = parsed(html)
    code = [
        s
        for (t, a), s in zip([x for x in tags.tags if x[0] == "script"], tags.scripts, strict=True)
        if a.get("type") != "application/json"
    ]
    assert len(code) == 2
    assert code[0] == str(inline_script(assets.plotly_js)) and len(code[0]) > 3_000_000
    assert code[1] == str(inline_script(assets.charts_js))
    assert assets.css[:200] in html
    csp = next(
        a["content"] for t, a in tags.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    )
    assert csp is not None
    for source in code:
        digest = base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]


def test_a_script_payload_in_names_cannot_leave_its_element() -> None:
    html = report_html(report())
    tags = parsed(html)
    assert [t for t, _ in tags.tags].count(
        "script"
    ) == 2 + 5  # plotly, charts.js, four time series + endpoints
    assert not [t for t, a in tags.tags if t == "img"]
    # Every figure is data in a JSON block; its text parses back to the escaped names.
    blocks = {
        a["id"]: s
        for (t, a), s in zip([x for x in tags.tags if x[0] == "script"], tags.scripts, strict=True)
        if a.get("type") == "application/json"
    }
    assert set(blocks) == {"fig-rps", "fig-latency", "fig-users", "fig-failures", "fig-endpoints"}
    assert "<" not in blocks["fig-endpoints"] and ">" not in blocks["fig-endpoints"]
    fig = json.loads(blocks["fig-endpoints"])
    assert fig["data"][0]["y"] == [
        "GET &lt;/script&gt;&lt;script&gt;window.__xss = 1&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
    ]
    # In the tables the payload is text.
    assert "&lt;/script&gt;&lt;script&gt;window.__xss = 1" in html


def test_the_snapshot_shown_is_redacted() -> None:
    html = report_html(report())
    for secret in ("tok-secret-9", "hdr-secret-8", "key-secret-7"):
        assert secret not in html
    assert REDACTED in html


def test_it_works_without_plotly_on_disk_when_assets_are_given() -> None:
    html = report_html(
        report(), assets=Assets(plotly_js="/*p*/", charts_js="/*c*/ x = '</script>'", css="body{}")
    )
    assert "x = '<\\/script>'" in html


def test_an_active_run_says_it_was_not_finished() -> None:
    html = report_html(report(run=header(is_active=True, status="running", status_label="Running")))
    assert "still running when this report was made" in html
    assert 'id="fig-endpoints"' not in html
