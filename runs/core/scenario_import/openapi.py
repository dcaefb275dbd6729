"""OpenAPI 3 documents (JSON or YAML) into one step per operation."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from runs.core.scenario_import._common import (
    DROPPED_HEADERS,
    MAX_NAME,
    MAX_STEPS,
    METHODS,
    ImportedStep,
    ImportResult,
    ScenarioImportError,
    body_allowed,
    check_path,
    load_json,
    split_url,
    step_name,
)


def _load_document(text: str) -> Any:
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return load_json(text, what="OpenAPI document")
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is in requirements.txt
        raise ScenarioImportError(
            "Only JSON OpenAPI documents can be read here (PyYAML is not installed)."
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ScenarioImportError(
            f"The OpenAPI document is not valid YAML{where}: {getattr(exc, 'problem', exc)}."
        ) from None


class _Refs:
    """Local ``$ref`` (``#/components/…``) resolution, with a depth guard against cycles."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document

    def resolve(self, node: Any, depth: int = 0) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            if depth > 20:
                raise ScenarioImportError("The OpenAPI document's $ref chain is too deep (a cycle?).")
            ref = str(node["$ref"])
            if not ref.startswith("#/"):
                raise ScenarioImportError(f"Only local references (#/…) can be followed, not {ref[:100]!r}.")
            target: Any = self.document
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, dict) or part not in target:
                    raise ScenarioImportError(f"The reference {ref[:100]!r} points at nothing.")
                target = target[part]
            node, depth = target, depth + 1
        return node


def _example_of(refs: _Refs, holder: Mapping[str, Any]) -> tuple[bool, Any]:
    """(found, value) of a parameter's, media type's or schema's example."""
    if "example" in holder:
        return True, holder["example"]
    examples = holder.get("examples")
    if isinstance(examples, dict) and examples:
        first = refs.resolve(next(iter(examples.values())))
        if isinstance(first, dict) and "value" in first:
            return True, first["value"]
    if isinstance(examples, list) and examples:  # JSON Schema's examples (OpenAPI 3.1)
        return True, examples[0]
    return False, None


def _sample(refs: _Refs, schema: Any, depth: int = 0) -> Any:
    """A value for ``schema``: its example, default, first enum value, or a placeholder by type."""
    schema = refs.resolve(schema)
    if not isinstance(schema, dict) or depth > 6:
        return None
    found, value = _example_of(refs, schema)
    if found:
        return value
    for key in ("default", "const"):
        if key in schema:
            return schema[key]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for combined in ("allOf", "oneOf", "anyOf"):
        if isinstance(schema.get(combined), list) and schema[combined]:
            if combined == "allOf":
                merged: dict[str, Any] = {}
                for part in schema[combined]:
                    sample = _sample(refs, part, depth + 1)
                    if isinstance(sample, dict):
                        merged.update(sample)
                return merged
            return _sample(refs, schema[combined][0], depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object" or (kind is None and "properties" in schema):
        properties = schema.get("properties") or {}
        return {str(name): _sample(refs, sub, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        item = _sample(refs, schema.get("items") or {}, depth + 1)
        return [] if item is None else [item]
    if kind == "integer":
        return max(1, int(schema.get("minimum") or 1))
    if kind == "number":
        return float(schema.get("minimum") or 1)
    if kind == "boolean":
        return True
    if kind == "string":
        fmt = schema.get("format")
        examples: dict[Any, str] = {
            "date": "2024-01-01",
            "date-time": "2024-01-01T00:00:00Z",
            "uuid": "00000000-0000-0000-0000-000000000000",
            "email": "user@example.com",
        }
        return examples.get(fmt, "string")
    return None


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return "" if value is None else str(value)


def _server_url(document: Mapping[str, Any], warnings: list[str]) -> str:
    servers = document.get("servers")
    if not isinstance(servers, list) or not servers or not isinstance(servers[0], dict):
        return ""
    server = servers[0]
    url = str(server.get("url") or "")
    for name, variable in (server.get("variables") or {}).items():
        if isinstance(variable, dict):
            url = url.replace("{" + str(name) + "}", str(variable.get("default", "")))
    if len(servers) > 1:
        warnings.append(f"The document lists {len(servers)} servers; used the first, {url}.")
    return url


def parse_openapi(text: str, *, base_url: str = "") -> ImportResult:
    """One step per operation of an OpenAPI 3 document (JSON or YAML).

    Paths are prefixed with the server's path (``servers[0]``, or ``base_url`` when given, whose
    origin is then the base URL). Path, query and header parameters take their example (or
    default, enum, a placeholder by type, with a warning); optional query parameters without an
    example are left out. JSON bodies come from the media type's example or are built from the
    schema. Security schemes are not turned into headers: set the credential on the target."""
    if not text.strip():
        raise ScenarioImportError("Paste or upload an OpenAPI document.")
    document = _load_document(text)
    if not isinstance(document, dict):
        raise ScenarioImportError("This is not an OpenAPI document: expected an object at the top.")
    if "swagger" in document:
        raise ScenarioImportError(
            "This is a Swagger 2.0 document; convert it to OpenAPI 3 first (e.g. with swagger2openapi "
            "or editor.swagger.io → Edit → Convert to OpenAPI 3)."
        )
    version = str(document.get("openapi") or "")
    if not version.startswith("3."):
        raise ScenarioImportError("This is not an OpenAPI 3 document: it has no “openapi: 3.x” field.")
    paths = document.get("paths")
    if not isinstance(paths, dict) or not paths:
        raise ScenarioImportError("The OpenAPI document has no paths.")
    refs = _Refs(document)
    warnings: list[str] = []
    server = base_url or _server_url(document, warnings)
    origin, prefix = "", ""
    if server:
        if "://" in server:
            origin, prefix, _ = split_url(server, where="The server URL")
        else:
            prefix = urlsplit(server).path  # a relative server URL: a path on the target
        prefix = prefix.rstrip("/")
    steps: list[ImportedStep] = []
    for template, item in paths.items():
        item = refs.resolve(item)
        if not isinstance(item, dict):
            continue
        shared = [refs.resolve(p) for p in item.get("parameters") or []]
        for method_name, operation in item.items():
            method = str(method_name).upper()
            if method_name in ("parameters", "summary", "description", "servers", "$ref") or not isinstance(
                operation, dict
            ):
                continue
            if method not in METHODS:
                warnings.append(f"{method} {template}: left out, the method cannot be a step.")
                continue
            steps.append(
                _operation_step(refs, str(template), method, operation, shared, prefix, origin, warnings)
            )
    if not steps:
        raise ScenarioImportError("The OpenAPI document has no operations (GET, POST, … under paths).")
    if len(steps) > MAX_STEPS:
        warnings.append(f"Kept the first {MAX_STEPS} of {len(steps)} operations.")
        steps = steps[:MAX_STEPS]
    operations = [op for item in paths.values() if isinstance(item, dict) for op in item.values()]
    if document.get("security") or any(isinstance(op, dict) and op.get("security") for op in operations):
        warnings.append(
            "The API asks for credentials (security schemes); they were not imported: set them on "
            "the target (Auth, or its headers), which keeps them out of exports."
        )
    return ImportResult("openapi", steps, origin + prefix if origin else "", warnings)


def _operation_step(
    refs: _Refs,
    template: str,
    method: str,
    operation: Mapping[str, Any],
    shared: list[Any],
    prefix: str,
    origin: str,
    warnings: list[str],
) -> ImportedStep:
    where = f"{method} {template}"
    parameters: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in [*shared, *(operation.get("parameters") or [])]:
        param = refs.resolve(raw)
        if isinstance(param, dict) and param.get("name") and param.get("in"):
            parameters[(str(param["in"]), str(param["name"]))] = param
    path = template
    query: dict[str, Any] = {}
    headers: dict[str, str] = {}
    for (place, name), param in parameters.items():
        found, value = _example_of(refs, param)
        if not found:
            schema = refs.resolve(param.get("schema") or {})
            found, value = _example_of(refs, schema) if isinstance(schema, dict) else (False, None)
            if not found:
                value = _sample(refs, schema)
                if place == "query" and not param.get("required"):
                    continue
                if place in ("path", "query", "header") and not (
                    isinstance(schema, dict) and ("default" in schema or "enum" in schema)
                ):
                    warnings.append(
                        f"{where}: no example for the {place} parameter “{name}”; "
                        f"used {_as_text(value)!r}, edit it."
                    )
        if place == "path":
            path = path.replace("{" + name + "}", quote(_as_text(value), safe=""))
        elif place == "query":
            query[name] = [_as_text(v) for v in value] if isinstance(value, list) else _as_text(value)
        elif place == "header" and name.lower() not in DROPPED_HEADERS:
            headers[name] = _as_text(value)
    body, body_type = "", "none"
    request_body = refs.resolve(operation.get("requestBody") or {})
    content = request_body.get("content") if isinstance(request_body, dict) else None
    if isinstance(content, dict) and content:
        media_type = next((m for m in content if "json" in m.lower()), next(iter(content)))
        media = refs.resolve(content[media_type]) or {}
        found, value = _example_of(refs, media) if isinstance(media, dict) else (False, None)
        if not found and isinstance(media, dict):
            value = _sample(refs, media.get("schema") or {})
        if "json" in media_type.lower():
            body, body_type = json.dumps(value, indent=2, ensure_ascii=False), "json"
        elif isinstance(value, str):
            body, body_type = value, "text"
        else:
            warnings.append(f"{where}: left out its {media_type} body (only JSON and text are imported).")
        if body_type != "none" and not body_allowed(method, body, where, warnings):
            body, body_type = "", "none"
        if body_type != "none":
            headers.setdefault("Content-Type", media_type)
    full = check_path(prefix + path, where=where)
    name = str(operation.get("operationId") or operation.get("summary") or "") or step_name(method, full)
    return ImportedStep(
        name=name[:MAX_NAME],
        method=method,
        path=full,
        query=query,
        headers=headers,
        body_type=body_type,
        body=body,
        url=f"{origin}{full}" if origin else full,
    )
