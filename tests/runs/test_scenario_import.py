"""Parsers of runs.core.scenario_import (pure: no database): cURL, HAR and OpenAPI into steps."""

from __future__ import annotations

import json

import pytest

from runs.core import scenario_import as si
from runs.core.exports import redact
from runs.core.scenario_import import ScenarioImportError, parse_any, parse_curl, parse_har, parse_openapi


# -- cURL ------------------------------------------------------------------------------------------
def test_a_chrome_copy_as_curl_with_continuations_and_ansi_c_quoting() -> None:
    text = r"""curl 'https://shop.example.com/api/cart?ref=home&ref=ad' \
  -H 'accept: application/json' \
  -H 'content-type: application/json' \
  -H $'x-note: it\'s \u00e9t\u00e9' \
  -H 'Authorization: Bearer abc.def' \
  -b 'sid=s3cr3t; theme=dark' \
  --data-raw $'{"sku":"A-1","note":"line1\\nline2 ${x}"}' \
  --compressed"""
    (step,) = parse_curl(text).steps
    assert step.method == "POST"  # a body without -X
    assert step.path == "/api/cart"
    assert step.query == {"ref": ["home", "ad"]}
    assert step.headers["x-note"] == "it's été"
    assert step.headers["Cookie"] == "sid=s3cr3t; theme=dark"
    assert step.body_type == "json"
    assert json.loads(step.body) == {"sku": "A-1", "note": "line1\nline2 ${x}"}
    assert step.secret_names == ["Authorization", "Cookie"]
    # A literal ${x} arrives as it was: escaped so the engine does not read a variable.
    assert "$${x}" in step.to_step()["body"]


def test_x_request_url_option_data_binary_repeated_headers_and_flag_clusters() -> None:
    text = (
        "curl -sSL -XPUT --url http://127.0.0.1:8000/items/7 -H 'X-A: 1' -H 'X-A: 2' "
        "--data-binary 'a=1' -d b=2"
    )
    result = parse_curl(text)
    (step,) = result.steps
    assert (step.method, step.path) == ("PUT", "/items/7")
    assert step.headers["X-A"] == "1, 2"
    assert step.body == "a=1&b=2" and step.body_type == "text"
    assert step.headers["Content-Type"] == "application/x-www-form-urlencoded"  # as curl sends -d
    assert result.base_url == "http://127.0.0.1:8000"


def test_get_with_data_moves_it_to_the_query_and_user_becomes_basic_auth() -> None:
    (step,) = parse_curl('curl -G "http://api.test/search" --data-urlencode "q=a b" -u alice:pw').steps
    assert step.method == "GET" and step.body_type == "none"
    assert step.query == {"q": "a b"}
    assert step.headers["Authorization"] == "Basic YWxpY2U6cHc="
    assert step.secret_names == ["Authorization"]


def test_json_option_and_several_commands_in_one_paste() -> None:
    text = """curl --json '{"a": 1}' https://api.test/a ;
curl 'https://api.test/b' -X DELETE
curl https://other.test/c"""
    result = parse_curl(text)
    assert [(s.method, s.path) for s in result.steps] == [("POST", "/a"), ("DELETE", "/b"), ("GET", "/c")]
    assert result.steps[0].headers["Content-Type"] == "application/json"
    assert result.steps[0].body_type == "json"
    assert result.base_url == "https://api.test"
    assert any("several hosts" in w for w in result.warnings)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "Paste a cURL command"),
        ("wget http://x", "starts with “curl”"),
        ("curl -H 'X: 1'", "no URL"),
        ("curl 'http://x", "unclosed quote"),
        ("curl http://x -d @body.json", "reads a file"),
        ("curl http://x -F file=@a.png", "multipart form uploads"),
        ("curl http://x -H 'NoColon'", "has no “:”"),
        ("curl http://x -X TRACE", "is not one of"),
        ("curl ftp://x/y", "not an http:// or https:// URL"),
        ("curl http://x http://y", "two URLs"),
        ("curl -X", "needs a value"),
        ('curl ^"http://x/^" -H ^"a: b^"', "Windows cmd"),
    ],
)
def test_bad_curl_input_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ScenarioImportError, match=message):
        parse_curl(text) if text else parse_curl(text)


def test_unknown_curl_options_are_ignored_with_a_warning_and_host_headers_dropped() -> None:
    result = parse_curl("curl --frobnicate http://api.test/x -H 'Host: evil' -H 'Content-Length: 3'")
    assert result.steps[0].headers == {}
    assert result.warnings == ["cURL command 1: ignored the option --frobnicate."]


# -- HAR -------------------------------------------------------------------------------------------
def _entry(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: str = "",
    mime: str = "",
    resp: str = "application/json",
) -> dict:  # noqa: E501
    request: dict = {
        "method": method,
        "url": url,
        "headers": [{"name": k, "value": v} for k, v in (headers or {}).items()],
        "cookies": [],
    }
    if body:
        request["postData"] = {"mimeType": mime, "text": body}
    return {"request": request, "response": {"status": 200, "content": {"mimeType": resp}}}


def _har(*entries: dict) -> str:
    return json.dumps({"log": {"version": "1.2", "creator": {"name": "test"}, "entries": list(entries)}})


def test_har_keeps_the_main_hosts_requests_in_order_without_static_files() -> None:
    text = _har(
        _entry("GET", "https://shop.test/", resp="text/html"),
        _entry("GET", "https://shop.test/static/app.js", resp="application/javascript"),
        _entry("GET", "https://cdn.test/logo.png", resp="image/png"),
        _entry(
            "POST",
            "https://shop.test/api/login",
            headers={":authority": "shop.test", "Content-Type": "application/json", "X-CSRF-Token": "t0k"},
            body='{"user":"a","password":"b"}',
            mime="application/json",
        ),
        _entry("GET", "https://shop.test/api/cart?page=2", headers={"Cookie": "sid=1"}),
        _entry("GET", "https://analytics.test/collect"),
    )
    result = parse_any(text)
    assert result.format == "har" and result.base_url == "https://shop.test"
    assert [(s.method, s.path, s.query) for s in result.steps] == [
        ("GET", "/", {}),
        ("POST", "/api/login", {}),
        ("GET", "/api/cart", {"page": "2"}),
    ]
    login = result.steps[1]
    assert ":authority" not in login.headers and login.body_type == "json"
    assert login.secret_names == ["X-CSRF-Token"]
    assert result.steps[2].secret_names == ["Cookie"]
    assert "Left out 2 request(s) to other hosts" in result.warnings[0]
    assert "Left out 1 image, font, style sheet and script request(s)." in result.warnings


def test_har_with_a_base_url_keeps_that_prefix_and_strips_it() -> None:
    text = _har(
        _entry("GET", "http://127.0.0.1:8000/api/v2/items"),
        _entry("GET", "http://127.0.0.1:8000/api/v1/items"),
        _entry(
            "PATCH",
            "http://127.0.0.1:8000/api/v2/items/3",
            body="x=1",
            mime="application/x-www-form-urlencoded",
        ),
    )
    result = parse_har(text, base_url="http://127.0.0.1:8000/api/v2")
    assert result.base_url == "http://127.0.0.1:8000/api/v2"
    assert [(s.method, s.path) for s in result.steps] == [("GET", "/items"), ("PATCH", "/items/3")]
    assert result.steps[1].headers == {"Content-Type": "application/x-www-form-urlencoded"}
    with pytest.raises(ScenarioImportError, match="No request in the HAR file goes to http://x.test"):
        parse_har(text, base_url="http://x.test")


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "not valid JSON: .* line 1, column 2"),
        ('{"log": {}}', "no log.entries list"),
        ('{"log": {"entries": []}}', "has no requests"),
        ('{"log": {"entries": [{"request": {}}]}}', "HAR entry 1 has no request URL"),
        (_har(_entry("GET", "https://x.test/a.png", resp="image/png")), "Nothing to import"),
    ],
)
def test_bad_har_input_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ScenarioImportError, match=message):
        parse_har(text)


# -- OpenAPI ---------------------------------------------------------------------------------------
OPENAPI_YAML = """
openapi: 3.0.3
info: {title: Shop, version: "1"}
servers:
  - url: https://{region}.shop.test/v1
    variables:
      region: {default: eu}
security:
  - bearer: []
paths:
  /items/{itemId}:
    parameters:
      - name: itemId
        in: path
        required: true
        schema: {type: integer, example: 42}
    get:
      operationId: getItem
      parameters:
        - {name: fields, in: query, schema: {type: string}}
        - {name: lang, in: query, required: true, schema: {type: string, enum: [en, fr]}}
        - {name: X-Api-Key, in: header, example: k-123}
    delete:
      summary: Delete an item
  /items:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/NewItem'}
    trace: {}
  /orders/{orderId}:
    get:
      parameters:
        - {name: orderId, in: path, required: true, schema: {type: string}}
components:
  schemas:
    NewItem:
      type: object
      properties:
        name: {type: string, example: Mug}
        price: {type: number}
        tags: {type: array, items: {type: string}}
"""


def test_openapi_yaml_with_servers_path_params_examples_and_refs() -> None:
    result = parse_any(OPENAPI_YAML)
    assert result.format == "openapi"
    assert result.base_url == "https://eu.shop.test/v1"
    by_name = {s.name: s for s in result.steps}
    get_item = by_name["getItem"]
    assert (get_item.method, get_item.path) == ("GET", "/v1/items/42")
    assert get_item.query == {"lang": "en"}  # the optional one without an example is left out
    assert get_item.headers == {"X-Api-Key": "k-123"}
    assert get_item.secret_names == ["X-Api-Key"]
    assert by_name["Delete an item"].method == "DELETE"
    post = by_name["POST /v1/items"]
    assert post.body_type == "json" and post.headers["Content-Type"] == "application/json"
    assert json.loads(post.body) == {"name": "Mug", "price": 1.0, "tags": ["string"]}
    order = by_name["GET /v1/orders/string"]
    assert order.path == "/v1/orders/string"
    warnings = " ".join(result.warnings)
    assert "TRACE /items: left out" in warnings
    assert "no example for the path parameter “orderId”" in warnings
    assert "set them on the target" in warnings


def test_openapi_json_with_a_base_url_and_a_media_type_example() -> None:
    document = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/login": {
                "post": {
                    "requestBody": {
                        "content": {"application/json": {"examples": {"ok": {"value": {"user": "a"}}}}}
                    }
                }
            }
        },
    }
    result = parse_openapi(json.dumps(document), base_url="http://127.0.0.1:8000/api")
    (step,) = result.steps
    assert step.path == "/api/login" and json.loads(step.body) == {"user": "a"}
    assert result.base_url == "http://127.0.0.1:8000/api"


@pytest.mark.parametrize(
    "text, message",
    [
        ("swagger: '2.0'\npaths: {}", "Swagger 2.0 document; convert it to OpenAPI 3"),
        ("openapi: 3.0.0\npaths: {}", "has no paths"),
        ("openapi: 3.0.0\npaths:\n  /a: {get: {}\n", "not valid YAML at line"),
        (
            '{"openapi": "3.0.0", "paths": {"/a": {"get": {"requestBody": {"$ref": "#/nope"}}}}}',
            "points at nothing",
        ),
        (
            '{"openapi": "3.0.0", "paths": {"/a": {"get": {"requestBody": {"$ref": "other.yaml#/x"}}}}}',
            "Only local",
        ),
        ('{"info": {}}', "no “openapi: 3.x” field"),
        ('{"openapi": "3.0.0", "paths": {"/a": {"summary": "x"}}}', "has no operations"),
    ],
)
def test_bad_openapi_input_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ScenarioImportError, match=message):
        parse_openapi(text)


def test_a_reference_cycle_is_refused_not_followed_forever() -> None:
    document = {
        "openapi": "3.0.0",
        "paths": {"/a": {"$ref": "#/components/x"}},
        "components": {"x": {"$ref": "#/components/y"}, "y": {"$ref": "#/components/x"}},
    }
    with pytest.raises(ScenarioImportError, match="too deep"):
        parse_openapi(json.dumps(document))


# -- shared ----------------------------------------------------------------------------------------
def test_detection_and_an_unknown_text() -> None:
    assert si.detect_format("  curl http://x") == "curl"
    assert si.detect_format(_har(_entry("GET", "http://x/"))) == "har"
    assert si.detect_format("openapi: 3.0.0\n") == "openapi"
    with pytest.raises(ScenarioImportError, match="Could not tell what this is"):
        parse_any("GET /index.html HTTP/1.1")


def test_leaving_secrets_out_and_the_secret_names_match_the_export_redaction() -> None:
    (step,) = parse_curl(
        "curl 'http://x/a?api_key=1&q=2' -H 'Authorization: Bearer t' -H 'Accept: */*'"
    ).steps
    assert step.secret_names == ["Authorization", "?api_key"]
    assert step.without(step.secret_names).to_step()["headers"] == {"Accept": "*/*"}
    assert step.without(step.secret_names).query == {"q": "2"}
    assert si.SECRET_NAME.pattern == redact.SECRET_NAME.pattern


def test_a_step_sent_back_by_the_preview_is_checked() -> None:
    step = parse_curl("curl http://x/a").steps[0]
    assert si.ImportedStep.from_dict(step.to_dict()) == step
    with pytest.raises(ScenarioImportError, match="Unknown method"):
        si.ImportedStep.from_dict({**step.to_dict(), "method": "BREW"})
    with pytest.raises(ScenarioImportError, match="must be objects"):
        si.ImportedStep.from_dict({**step.to_dict(), "headers": ["a"]})


def test_the_parsers_and_the_notification_bodies_import_no_django() -> None:
    import subprocess
    import sys

    code = (
        "import sys, runs.core.scenario_import, runs.core.notifications.payloads, "
        "runs.core.notifications.http;"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'));"
        "print(', '.join(bad)); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=si.__path__[0] + "/../../.."
    )
    assert done.returncode == 0, done.stderr
