"""API clients for the personas: each sends ``Authorization: Bearer <its own token>``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from runs.models import TestPlan
from runs.services.api_tokens import api_token_create
from tests.pages.conftest import finished_run, make_run, seeded_plan  # noqa: F401  (fixtures)

API = "/api/v1"


class ApiClient:
    """A Django test client that sends a bearer token and JSON bodies."""

    def __init__(self, token: str | None) -> None:
        # CSRF enforced as in a real browser: token requests must not need it.
        self.client = Client(enforce_csrf_checks=True)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        url = path if path.startswith("/") and path.startswith(API) else f"{API}{path}"
        kwargs: dict[str, Any] = {"headers": self.headers}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        elif params:
            kwargs["data"] = params
        return getattr(self.client, method)(url, **kwargs)

    def get(self, path: str, **params: Any) -> Any:
        return self.call("get", path, **params)

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("post", path, body if body is not None else {})

    def put(self, path: str, body: Any) -> Any:
        return self.call("put", path, body)

    def patch(self, path: str, body: Any) -> Any:
        return self.call("patch", path, body)

    def delete(self, path: str) -> Any:
        return self.call("delete", path)


def api_for(user: Any) -> ApiClient:
    _, token = api_token_create(user=user, name="tests")
    return ApiClient(token)


@pytest.fixture
def alice_api(alice: Any) -> ApiClient:
    return api_for(alice)


@pytest.fixture
def bob_api(bob: Any) -> ApiClient:
    return api_for(bob)


@pytest.fixture
def victor_api(victor: Any) -> ApiClient:
    return api_for(victor)


@pytest.fixture
def carol_api(carol: Any) -> ApiClient:
    return api_for(carol)


@pytest.fixture
def plan(seeded_plan: TestPlan) -> TestPlan:  # noqa: F811
    return seeded_plan
