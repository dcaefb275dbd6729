"""Scenario variables, pure: templates, data sources (CSV, lists), row picking, extraction.

No Locust, no Django: the child (``runs.core.engine.child``) and the forms both use it, and it is
tested on its own.

Template syntax: ``${name}`` inserts a variable; ``$${`` is a literal ``${``. Names are
identifiers (``[A-Za-z_][A-Za-z0-9_]*``). Nothing is evaluated: a template is split once into
literal parts and names (:func:`compile_template`), and rendering joins them.

Extraction rules, one per line: ``name = json:data.token``, ``name = header:X-Session`` or
``name = regex:id=(\\d+)`` (the first group, or the whole match without a group).
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
MAX_SOURCE_BYTES = 5 * 1024 * 1024
MAX_SOURCE_ROWS = 100_000
MAX_EXTRACTIONS = 20


class TemplateError(ValueError):
    """A template cannot be compiled (an unclosed ``${``, a bad name)."""


class DataSourceError(ValueError):
    """A CSV file or list cannot be used; the message is meant for the user."""


class ExtractionError(Exception):
    """A response did not hold a value an extraction asked for."""


class ExtractionSyntaxError(ValueError):
    """An extraction rule is malformed; the message is meant for the user."""


# -- templates ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Template:
    """A compiled template: literal strings and variable names, alternating."""

    parts: tuple[str | tuple[str], ...]  # a str is literal text, a 1-tuple is a variable name
    names: frozenset[str]

    @property
    def is_static(self) -> bool:
        return not self.names

    def render(self, values: Mapping[str, str], quote: Any = None) -> str:
        """Join the parts; ``quote`` (e.g. a URL quoting function) is applied to values only.
        A missing name raises ``KeyError``: callers check names beforehand (:func:`undefined`)."""
        out = []
        for part in self.parts:
            if part.__class__ is str:
                out.append(part)
            else:
                value = values[part[0]]  # type: ignore[index]
                out.append(quote(value) if quote is not None else value)
        return "".join(out)  # type: ignore[arg-type]


def compile_template(text: str) -> Template:
    parts: list[str | tuple[str]] = []
    names: set[str] = set()
    literal: list[str] = []
    i, n = 0, len(text)
    while i < n:
        j = text.find("$", i)
        if j < 0:
            literal.append(text[i:])
            break
        literal.append(text[i:j])
        if text.startswith("$${", j):
            literal.append("${")
            i = j + 3
        elif text.startswith("${", j):
            end = text.find("}", j + 2)
            if end < 0:
                raise TemplateError(
                    f"“${{” at position {j + 1} is not closed with “}}” (write $${{ for a literal ${{)."
                )
            name = text[j + 2 : end].strip()
            if not NAME.match(name):
                raise TemplateError(
                    f"“${{{text[j + 2 : end]}}}” is not a variable name: "
                    "use letters, digits and _, not starting with a digit."
                )
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append((name,))
            names.add(name)
            i = end + 1
        else:
            literal.append("$")
            i = j + 1
    if literal and "".join(literal):
        parts.append("".join(literal))
    return Template(tuple(parts), frozenset(names))


def template_names(text: str) -> frozenset[str]:
    return compile_template(text).names


def has_template(text: Any) -> bool:
    """Cheap pre-check: a string that cannot hold a variable needs no compiling."""
    return isinstance(text, str) and "${" in text


# -- data sources ------------------------------------------------------------------------------
def _check_name(name: str, what: str) -> str:
    name = name.strip()
    if not NAME.match(name):
        raise DataSourceError(
            f"{what} “{name}” is not a valid variable name: "
            "use letters, digits and _, not starting with a digit."
        )
    return name


def parse_csv(
    data: bytes | str, *, max_bytes: int = MAX_SOURCE_BYTES, max_rows: int = MAX_SOURCE_ROWS
) -> tuple[list[str], list[list[str]]]:
    """A CSV file with a header row → (column names, rows). Every row has every column."""
    if len(data) > max_bytes:
        raise DataSourceError(f"The file is larger than {max_bytes // (1024 * 1024)} MB.")
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DataSourceError(f"The file is not UTF-8 text (byte {exc.start + 1}).") from None
    else:
        text = data.removeprefix("\ufeff")
    if "\x00" in text:
        raise DataSourceError("The file contains a NUL character; it does not look like a CSV file.")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise DataSourceError("The file is empty: the first row must name the columns.")
        columns = [_check_name(h, "The column") for h in header]
        seen = set()
        for name in columns:
            if name in seen:
                raise DataSourceError(f"The column “{name}” appears twice in the header row.")
            seen.add(name)
        rows: list[list[str]] = []
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip() and len(columns) > 1):
                continue  # blank line
            if len(row) != len(columns):
                raise DataSourceError(
                    f"Line {reader.line_num} has {len(row)} value(s); "
                    f"the header names {len(columns)} column(s)."
                )
            rows.append(row)
            if len(rows) > max_rows:
                raise DataSourceError(f"The file has more than {max_rows:,} rows.")
    except csv.Error as exc:
        raise DataSourceError(f"Line {reader.line_num} is not valid CSV: {exc}.") from None
    if not rows:
        raise DataSourceError("The file has a header row but no data rows.")
    return columns, rows


def parse_list(
    text: str, name: str, *, max_bytes: int = MAX_SOURCE_BYTES, max_rows: int = MAX_SOURCE_ROWS
) -> tuple[list[str], list[list[str]]]:
    """One value per line (blank lines skipped) for the variable ``name``."""
    name = _check_name(name or "", "The variable name")
    if len(text.encode()) > max_bytes:
        raise DataSourceError(f"The list is larger than {max_bytes // (1024 * 1024)} MB.")
    if "\x00" in text:
        raise DataSourceError("The list contains a NUL character.")
    values = [line.strip() for line in text.splitlines() if line.strip()]
    if not values:
        raise DataSourceError("Give at least one value, one per line.")
    if len(values) > max_rows:
        raise DataSourceError(f"The list has more than {max_rows:,} values.")
    return [name], [[v] for v in values]


class RowPicker:
    """Hands out rows of one source: ``sequential`` (a cursor shared by every user of the
    process, wrapping around) or ``random``."""

    __slots__ = ("columns", "rows", "random", "_next", "_lock", "_rng")

    def __init__(
        self, columns: list[str], rows: list[list[str]], *, mode: str, seed: int | None = None
    ) -> None:
        if mode not in ("sequential", "random"):
            raise ValueError(f"unknown row mode {mode!r}")
        if not rows:
            raise ValueError("a data source without rows")
        self.columns = tuple(columns)
        self.rows = [tuple(r) for r in rows]
        self.random = mode == "random"
        self._next = 0
        # Greenlets never switch inside ``pick``; the lock only matters for real threads.
        self._lock = threading.Lock()
        self._rng = random.Random(seed)

    def pick(self) -> tuple[str, ...]:
        if self.random:
            return self._rng.choice(self.rows)
        with self._lock:
            row = self.rows[self._next]
            self._next = (self._next + 1) % len(self.rows)
        return row

    def fill(self, values: dict[str, str]) -> None:
        values.update(zip(self.columns, self.pick(), strict=True))


# -- extraction --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Extraction:
    var: str
    source: str  # "json", "header", "regex"
    expr: str

    def compiled(self) -> Any:
        if self.source == "json":
            return json_path(self.expr)
        if self.source == "regex":
            return re.compile(self.expr)
        return self.expr.lower()

    def line(self) -> str:
        return f"{self.var} = {self.source}:{self.expr}"


EXTRACT_LINE = re.compile(r"\s*([^=\s]*)\s*=\s*(json|header|regex)\s*:(.*)\Z")


def parse_extractions(text: str) -> list[Extraction]:
    """Lines like ``token = json:access_token`` → rules. Blank lines and ``#`` comments are skipped."""
    rules: list[Extraction] = []
    seen: set[str] = set()
    for number, raw in enumerate((text or "").splitlines(), start=1):
        if not raw.strip() or raw.strip().startswith("#"):
            continue
        match = EXTRACT_LINE.match(raw)
        if not match:
            raise ExtractionSyntaxError(
                f"Line {number}: write “name = json:path.to.field”, “name = header:Header-Name” "
                "or “name = regex:pattern”."
            )
        var, source, expr = match.group(1), match.group(2), match.group(3).strip()
        if not NAME.match(var):
            raise ExtractionSyntaxError(f"Line {number}: “{var}” is not a variable name.")
        if var in seen:
            raise ExtractionSyntaxError(f"Line {number}: “{var}” is extracted twice.")
        if not expr:
            raise ExtractionSyntaxError(f"Line {number}: say what to extract after “{source}:”.")
        rule = Extraction(var, source, expr)
        try:
            pattern = rule.compiled()
        except re.error as exc:
            raise ExtractionSyntaxError(f"Line {number}: the regular expression is invalid: {exc}.") from None
        except ValueError as exc:
            raise ExtractionSyntaxError(f"Line {number}: {exc}") from None
        if source == "regex" and pattern.groups > 1:
            raise ExtractionSyntaxError(
                f"Line {number}: use at most one group ( … ) in the regular expression."
            )
        seen.add(var)
        rules.append(rule)
    if len(rules) > MAX_EXTRACTIONS:
        raise ExtractionSyntaxError(f"At most {MAX_EXTRACTIONS} extractions per step.")
    return rules


def extractions_to_text(rules: Iterable[Mapping[str, str]]) -> str:
    return "\n".join(f"{r['var']} = {r['source']}:{r['expr']}" for r in rules)


def json_path(expr: str) -> tuple[str, ...]:
    """``data.items.0.id`` → its keys; a number is a list index (or a key of an object)."""
    keys = tuple(expr.strip().split("."))
    if any(not k for k in keys):
        raise ValueError(f"“{expr}” is not a dotted path like data.token or items.0.id.")
    return keys


def json_get(document: Any, keys: tuple[str, ...]) -> Any:
    """Follow ``keys`` into a decoded JSON document; ``KeyError`` names the first missing step."""
    node = document
    for depth, key in enumerate(keys):
        if isinstance(node, dict):
            if key not in node:
                raise KeyError(".".join(keys[: depth + 1]))
            node = node[key]
        elif isinstance(node, list) and key.lstrip("-").isdigit():
            index = int(key)
            if not -len(node) <= index < len(node):
                raise KeyError(".".join(keys[: depth + 1]))
            node = node[index]
        else:
            raise KeyError(".".join(keys[: depth + 1]))
    return node


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


class Extractor:
    """A step's compiled extraction rules, applied to one response."""

    __slots__ = ("rules", "needs_json")

    def __init__(self, rules: Iterable[Mapping[str, str]]) -> None:
        compiled = []
        for rule in rules:
            r = Extraction(str(rule["var"]), str(rule["source"]), str(rule["expr"]))
            compiled.append((r, r.compiled()))
        self.rules = tuple(compiled)
        self.needs_json = any(r.source == "json" for r, _ in compiled)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(r.var for r, _ in self.rules)

    def apply(self, *, content: bytes | None, headers: Any, into: dict[str, str]) -> None:
        """Store every extracted value in ``into``; the first that fails raises ``ExtractionError``.
        ``headers`` is any mapping with ``items()`` (both Locust clients' header types)."""
        document: Any = None
        parsed = False
        text: str | None = None
        for rule, compiled in self.rules:
            if rule.source == "json":
                if not parsed:
                    parsed = True
                    try:
                        document = json.loads(content or b"")
                    except ValueError:
                        raise ExtractionError(
                            f"extract {rule.var}: the response is not JSON (for json:{rule.expr})"
                        ) from None
                try:
                    value = json_get(document, compiled)
                except KeyError as exc:
                    raise ExtractionError(
                        f"extract {rule.var}: no “{exc.args[0]}” in the JSON response (json:{rule.expr})"
                    ) from None
                if value is None:
                    raise ExtractionError(f"extract {rule.var}: “{rule.expr}” is null in the JSON response")
                into[rule.var] = as_text(value)
            elif rule.source == "header":
                found = None
                for key, value in (headers or {}).items():
                    if key.lower() == compiled:
                        found = value
                        break
                if found is None:
                    raise ExtractionError(f"extract {rule.var}: the response has no header “{rule.expr}”")
                into[rule.var] = found
            else:
                if text is None:
                    text = (content or b"").decode("utf-8", errors="replace")
                match = compiled.search(text)
                if match is None:
                    raise ExtractionError(
                        f"extract {rule.var}: the response does not match regex:{rule.expr}"
                    )
                into[rule.var] = match.group(1) if compiled.groups else match.group(0)


# -- whole-scenario check ----------------------------------------------------------------------
def step_template_texts(step: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(where, text) of every templated part of a step: path, query values, header values, body."""
    texts = [("path", str(step.get("path") or ""))]
    for key, value in (step.get("query") or {}).items():
        for item in value if isinstance(value, list) else [value]:
            texts.append((f"query “{key}”", str(item)))
    for key, value in (step.get("headers") or {}).items():
        texts.append((f"header “{key}”", str(value)))
    if (step.get("body_type") or "none") != "none":
        texts.append(("body", str(step.get("body") or "")))
    return texts


def step_names_used(step: Mapping[str, Any]) -> frozenset[str]:
    names: set[str] = set()
    for _, text in step_template_texts(step):
        if has_template(text):
            names |= compile_template(text).names
    return frozenset(names)


def undefined_variables(
    *, mode: str, source_names: Iterable[str], steps: Sequence[Mapping[str, Any]]
) -> list[tuple[int, list[str]]]:
    """(step index, names it uses that nothing defines before it). In ``sequence`` mode a step
    may use what earlier steps extract; in ``weighted`` mode only data sources define names."""
    defined = set(source_names)
    problems = []
    for index, step in enumerate(steps):
        missing = sorted(step_names_used(step) - defined)
        if missing:
            problems.append((index, missing))
        if mode == "sequence":
            defined |= {str(r["var"]) for r in step.get("extract") or []}
    return problems
