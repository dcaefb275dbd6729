"""What the forms share: a JSON textarea whose errors say where the JSON broke, and checks of
JSON objects and string maps.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms

JSON_ATTRS = {"rows": 3, "spellcheck": "false", "class": "mono"}


def json_error_where(exc: json.JSONDecodeError) -> str:
    return f"{exc.msg} (line {exc.lineno}, column {exc.colno})."


def json_object(value: Any, what: str) -> dict[str, Any]:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise forms.ValidationError(f'{what} must be a JSON object, e.g. {{"name": "value"}}.')
    return value


def string_map(value: Any, what: str) -> dict[str, Any]:
    value = json_object(value, what)
    for key, item in value.items():
        if not isinstance(item, (str, int, float)) or isinstance(item, bool):
            raise forms.ValidationError(f"{what}: the value of “{key}” must be a string or a number.")
    return {k: str(v) for k, v in value.items()}


def has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    return isinstance(value, list) and any(has_nul(v) for v in value)


class JSONObjectField(forms.JSONField):
    """A JSON textarea whose parse errors say where the JSON broke."""

    def to_python(self, value: Any) -> Any:
        if self.disabled or value in self.empty_values:
            return None
        if isinstance(value, (list, dict, int, float)):
            return value
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {json_error_where(exc)}", code="invalid") from None
        if has_nul(parsed):  # PostgreSQL's jsonb cannot store \u0000
            raise forms.ValidationError(
                "JSON here cannot contain the NUL character (\\u0000).", code="invalid"
            )
        return parsed

    def prepare_value(self, value: Any) -> Any:
        if value in ({}, None):
            return ""
        return super().prepare_value(value)
