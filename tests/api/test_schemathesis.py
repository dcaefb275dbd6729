"""Schemathesis against our own OpenAPI document, in-process (WSGI), as alice with a token.

Every operation gets generated requests (valid and invalid); no answer may be a 5xx and every
documented answer must match its schema. Alice has a plan and a finished run with results, so
ids 1, 2, … hit real objects now and then, not only 404s.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from runs.services.api_tokens import api_token_create

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@pytest.fixture
def alice_token(alice: Any, finished_run: Any) -> Iterator[str]:
    # As Django's test client does: the WSGI handler would otherwise close the test's database
    # connection (and its transaction) after every request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield api_token_create(user=alice, name="schemathesis")[1]
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,  # the same requests every run: a failure here is reproducible
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_api_answers_without_server_errors_and_as_documented(case: Any, alice_token: str) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {alice_token}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
