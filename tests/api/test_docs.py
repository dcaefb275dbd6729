"""The OpenAPI document and the docs page: served by the app, no asset from another host."""

from __future__ import annotations

import re

from django.test import Client


def test_openapi_document_lists_every_resource_and_both_auth_schemes(db: None) -> None:
    doc = Client().get("/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    paths = set(doc["paths"])
    for path in (
        "/api/v1/teams",
        "/api/v1/targets/{target_id}",
        "/api/v1/scenarios",
        "/api/v1/profiles",
        "/api/v1/plans/{plan_id}/runs",
        "/api/v1/runs/{run_id}/series",
        "/api/v1/runs/compare",
        "/api/v1/runs/{run_id}/analysis",
        "/api/v1/runs/{run_id}/cancel",
        "/api/v1/runs/{run_id}/baseline",
    ):
        assert path in paths, path
    assert set(doc["components"]["securitySchemes"]) == {"TokenAuth", "SessionAuth"}
    target = doc["components"]["schemas"]["TargetOut"]["properties"]
    assert "auth_password" not in target and "has_auth_password" in target


def test_docs_page_loads_only_local_assets(db: None) -> None:
    c = Client()
    html = c.get("/api/v1/docs").content.decode()
    refs = re.findall(r"""<(?:script|link)[^>]+(?:src|href)=["']([^"']+)""", html)
    assert refs and all(ref.startswith("/static/") for ref in refs), refs
    assert not re.search(r"https?://", html)
    assert '"validatorUrl": null' in html  # no badge fetched from validator.swagger.io
    for ref in refs:
        response = c.get(ref)
        assert response.status_code == 200, ref
        response.getvalue()  # the whole body is served (a streamed one too)
