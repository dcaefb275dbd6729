"""Request parsing: JSON and query strings, refusing the NUL character (PostgreSQL cannot store
it in text or jsonb; the pages refuse it too) with a 422 instead of a database error."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from ninja.errors import ValidationError
from ninja.parser import Parser

NUL_MESSAGE = "Text cannot contain the NUL character (\\u0000)."


def has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


class NulRefusingParser(Parser):
    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data = json.loads(request.body)
        if has_nul(data):
            raise ValidationError([{"loc": ["body"], "msg": NUL_MESSAGE, "type": "value_error"}])
        return data  # type: ignore[no-any-return]

    def parse_querydict(
        self, data: MultiValueDict, list_fields: list[str], request: HttpRequest
    ) -> dict[str, Any]:
        result = super().parse_querydict(data, list_fields, request)
        if has_nul(result):
            raise ValidationError([{"loc": ["query"], "msg": NUL_MESSAGE, "type": "value_error"}])
        return result
