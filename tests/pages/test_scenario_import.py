"""The scenario import pages: paste or upload → preview (secrets flagged) → save, validated as the
scenario page validates; bad input says what is wrong and saves nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from runs.models import Scenario, ScenarioStep

CURL = """curl 'http://127.0.0.1:8089/api/cart?page=2' \\
  -H 'Accept: application/json' \\
  -H 'Content-Type: application/json' \\
  -H 'Authorization: Bearer s3cr3t-token' \\
  -b 'sid=abc' \\
  --data-raw '{"sku": "A-1", "note": "${not_a_var}"}'
curl http://127.0.0.1:8089/delay?ms=5"""


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _preview(client: Client, **data: Any) -> Any:
    response = client.post("/scenarios/import/", {"format": "auto", **data})
    assert response.status_code == 200
    return response


def _steps_json(response: Any) -> str:
    return response.context["steps_json"]


def test_a_curl_preview_flags_secrets_and_saving_leaves_them_out(alice: Any, team: Any) -> None:
    client = _client(alice)
    response = _preview(client, text=CURL)
    page = response.content.decode()
    assert response.templates[0].name == "runs/scenario_import_preview.html"
    assert 'data-secret="Authorization"' in page and 'data-secret="Cookie"' in page
    assert "http://127.0.0.1:8089" in page
    assert not Scenario.objects.exists()  # a preview saves nothing

    response = client.post(
        "/scenarios/import/",
        {
            "steps_json": _steps_json(response),
            "name": "Cart",
            "mode": "sequence",
            "include": ["0", "1"],
            "keep_secret": ["0:Cookie"],
        },
    )
    scenario = Scenario.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/scenarios/{scenario.pk}/"
    assert (scenario.team, scenario.name, scenario.mode, scenario.created_by) == (
        team,
        "Cart",
        "sequence",
        alice,
    )
    cart, delay = scenario.steps.all()
    assert (cart.method, cart.path, cart.query) == ("POST", "/api/cart", {"page": "2"})
    assert cart.headers == {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "Cookie": "sid=abc",
    }  # Authorization left out
    assert cart.body_type == "json" and json.loads(cart.body) == {"sku": "A-1", "note": "$${not_a_var}"}
    assert (delay.method, delay.path, delay.query) == ("GET", "/delay", {"ms": "5"})
    follow = client.get(response["Location"]).content.decode()
    assert "1 secret value(s) were left out" in follow


def test_only_the_chosen_steps_are_saved(alice: Any) -> None:
    client = _client(alice)
    steps = _steps_json(_preview(client, text=CURL))
    client.post(
        "/scenarios/import/", {"steps_json": steps, "name": "Delay", "mode": "weighted", "include": ["1"]}
    )
    (step,) = ScenarioStep.objects.all()
    assert step.path == "/delay"
    response = client.post("/scenarios/import/", {"steps_json": steps, "name": "None", "mode": "weighted"})
    assert "Choose at least one step to import." in response.content.decode()
    assert Scenario.objects.count() == 1


def test_an_uploaded_openapi_yaml_file_is_previewed(alice: Any) -> None:
    document = (
        b"openapi: 3.0.0\ninfo: {title: t, version: '1'}\n"
        b"paths:\n  /health:\n    get: {operationId: health}\n"
    )
    response = _preview(
        _client(alice),
        text="",
        file=SimpleUploadedFile("api.yaml", document, content_type="application/yaml"),
        base_url="http://127.0.0.1:8089/v2",
    )
    (row,) = response.context["rows"]
    assert (row["step"].name, row["step"].path) == ("health", "/v2/health")


@pytest.mark.parametrize(
    "data, message",
    [
        ({"text": ""}, "Paste a cURL command, a HAR file or an OpenAPI document, or upload a file."),
        ({"text": "curl 'http://x"}, "unclosed quote"),
        ({"text": "{nope", "format": "har"}, "The HAR file is not valid JSON"),
        ({"text": "hello"}, "Could not tell what this is"),
    ],
)
def test_bad_input_says_what_is_wrong_and_saves_nothing(
    alice: Any, data: dict[str, str], message: str
) -> None:
    response = _client(alice).post("/scenarios/import/", {"format": "auto", **data})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Scenario.objects.exists()


def test_a_tampered_preview_is_validated_like_the_scenario_page(alice: Any) -> None:
    client = _client(alice)
    bad = json.dumps([{"name": "x", "method": "GET", "path": "/a b", "body_type": "none"}])
    response = client.post(
        "/scenarios/import/", {"steps_json": bad, "name": "X", "mode": "weighted", "include": ["0"]}
    )
    assert "The path cannot contain spaces" in response.content.decode()
    response = client.post(
        "/scenarios/import/", {"steps_json": "[", "name": "X", "mode": "weighted"}, follow=True
    )
    assert "The steps of the preview were damaged" in response.content.decode()
    assert not Scenario.objects.exists()


def test_hostile_text_is_escaped_in_the_preview(alice: Any) -> None:
    page = _preview(
        _client(alice),
        text="curl 'http://x.test/<img src=x onerror=alert(1)>' -H 'X-A: <script>alert(1)</script>'",
    ).content.decode()
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page


def test_viewers_cannot_import(victor: Any) -> None:
    client = _client(victor)
    assert client.get("/scenarios/import/").status_code == 403
    assert client.post("/scenarios/import/", {"format": "auto", "text": CURL}).status_code == 403
    assert not Scenario.objects.exists()


@pytest.mark.slow
@pytest.mark.browser
def test_importing_a_har_file_in_chromium(
    transactional_db: None, live_server: Any, alice: Any, browser_page: Any, tmp_path: Any
) -> None:
    har = {
        "log": {
            "version": "1.2",
            "creator": {"name": "devtools"},
            "entries": [
                {
                    "request": {
                        "method": "GET",
                        "url": "http://127.0.0.1:8089/delay?ms=5",
                        "headers": [{"name": "Accept", "value": "text/html"}],
                    },
                    "response": {"content": {"mimeType": "text/html"}},
                },
                {
                    "request": {
                        "method": "GET",
                        "url": "http://127.0.0.1:8089/logo.png",
                        "headers": [],
                    },
                    "response": {"content": {"mimeType": "image/png"}},
                },
                {
                    "request": {
                        "method": "POST",
                        "url": "http://127.0.0.1:8089/echo",
                        "headers": [
                            {"name": "Content-Type", "value": "application/json"},
                            {"name": "X-Api-Key", "value": "k-123"},
                        ],
                        "postData": {"mimeType": "application/json", "text": '{"a": 1}'},
                    },
                    "response": {"content": {"mimeType": "application/json"}},
                },
            ],
        }
    }
    path = tmp_path / "shop.har"
    path.write_text(json.dumps(har))
    page = browser_page
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "alice-password-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")

    page.goto(f"{base}/scenarios/")
    page.click("#scenario-import-link")
    page.wait_for_url(f"{base}/scenarios/import/")
    page.set_input_files("#id_file", str(path))
    page.click("text=Preview the steps")
    page.wait_for_selector("#import-steps")
    assert page.locator("#import-steps tbody tr").count() == 2  # the image was left out
    assert "Left out 1 image" in page.locator("#import-warnings").inner_text()
    assert "http://127.0.0.1:8089" in page.locator("#import-base-url").inner_text()
    secret = page.locator("#import-steps tr[data-step='1'] [data-secret='X-Api-Key']")
    assert "secret" in secret.inner_text()
    assert page.locator("#id_mode").input_value() == "sequence"  # a recorded flow
    page.fill("#id_name", "Recorded shop")
    page.click("text=Save scenario")
    page.wait_for_selector("#scenario-form")
    assert (
        "Imported scenario “Recorded shop” with 2 step(s). 1 secret value(s) were left out" in page.content()
    )
    assert page.locator("#id_steps-0-path").input_value() == "/delay"
    assert json.loads(page.locator("#id_steps-0-query").input_value()) == {"ms": "5"}
    assert page.locator("#id_steps-1-path").input_value() == "/echo"
    assert json.loads(page.locator("#id_steps-1-headers").input_value()) == {
        "Content-Type": "application/json"
    }
