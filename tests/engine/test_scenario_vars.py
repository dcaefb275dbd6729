"""runs.core.engine.scenario_vars on its own: templates, CSV and lists, row picking, extraction."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from runs.core.engine import scenario_vars as sv


# -- templates ---------------------------------------------------------------------------------
def test_a_template_inserts_values_and_keeps_literal_text():
    t = sv.compile_template("/users/${id}/orders?x=${ q }&plain=$5")
    assert t.names == {"id", "q"}
    assert t.render({"id": "42", "q": "a b"}) == "/users/42/orders?x=a b&plain=$5"


def test_double_dollar_escapes_a_literal_placeholder():
    t = sv.compile_template("cost $${price} is ${price}")
    assert t.names == {"price"}
    assert t.render({"price": "3"}) == "cost ${price} is 3"


def test_a_template_without_variables_is_static_and_unchanged():
    t = sv.compile_template("/plain/$path")
    assert t.is_static and t.render({}) == "/plain/$path"


def test_quote_applies_to_values_only():
    t = sv.compile_template("/a b/${v}")
    assert t.render({"v": "x/y z"}, quote=lambda v: v.replace(" ", "%20")) == "/a b/x/y%20z"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("/a/${id", "is not closed"),
        ("${1abc}", "is not a variable name"),
        ("${}", "is not a variable name"),
        ("${a-b}", "is not a variable name"),
    ],
)
def test_a_malformed_template_is_refused_with_a_clear_message(text, message):
    with pytest.raises(sv.TemplateError, match=re.escape(message)):
        sv.compile_template(text)


def test_rendering_never_evaluates_values():
    # A value that looks like a template or code stays text: nothing is evaluated twice.
    t = sv.compile_template("${a}")
    assert t.render({"a": "${b} {{ 7*7 }} __import__('os')"}) == "${b} {{ 7*7 }} __import__('os')"


# -- data sources ------------------------------------------------------------------------------
def test_csv_header_names_the_variables():
    columns, rows = sv.parse_csv(b'\xef\xbb\xbfuser,pass\r\nann,"x,1"\r\nbob,y\r\n')
    assert columns == ["user", "pass"]
    assert rows == [["ann", "x,1"], ["bob", "y"]]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty"),
        (b"user,pass\n", "no data rows"),
        (b"user,user\na,b\n", "appears twice"),
        (b"user name\nx\n", "not a valid variable name"),
        (b"a,b\n1,2\n3\n", "Line 3 has 1 value(s); the header names 2"),
        (b"a\n\xff\n", "not UTF-8"),
        (b'a,b\n"x,1\n', "not valid CSV"),
    ],
)
def test_a_bad_csv_is_explained(data, message):
    with pytest.raises(sv.DataSourceError, match=re.escape(message)):
        sv.parse_csv(data)


def test_csv_size_and_row_caps():
    with pytest.raises(sv.DataSourceError, match="larger than"):
        sv.parse_csv(b"a\n" + b"x\n" * 100, max_bytes=50)
    with pytest.raises(sv.DataSourceError, match="more than 3 rows"):
        sv.parse_csv(b"a\n1\n2\n3\n4\n", max_rows=3)
    assert len(sv.parse_csv(b"a\n1\n2\n3\n", max_rows=3)[1]) == 3


def test_a_list_gives_one_variable_one_value_per_line():
    assert sv.parse_list(" one \n\ntwo\r\n", "term") == (["term"], [["one"], ["two"]])
    with pytest.raises(sv.DataSourceError, match="at least one value"):
        sv.parse_list("\n \n", "term")
    with pytest.raises(sv.DataSourceError, match="not a valid variable name"):
        sv.parse_list("x", "9lives")


def test_sequential_rows_go_round_robin_across_callers() -> None:
    picker = sv.RowPicker(["v"], [["a"], ["b"], ["c"]], mode="sequential")
    assert [picker.pick()[0] for _ in range(7)] == ["a", "b", "c", "a", "b", "c", "a"]
    values: dict[str, str] = {}
    picker.fill(values)
    assert values == {"v": "b"}


def test_random_rows_cover_the_source():
    picker = sv.RowPicker(["v"], [[str(i)] for i in range(5)], mode="random", seed=7)
    counts = Counter(picker.pick()[0] for _ in range(2000))
    assert set(counts) == {"0", "1", "2", "3", "4"}
    assert min(counts.values()) > 300  # about 400 each


# -- extraction --------------------------------------------------------------------------------
def test_extraction_rules_parse_and_round_trip():
    text = 'token = json:data.access_token\n# note\n\nsid=header:X-Session\nid = regex:"id":(\\d+)'
    rules = sv.parse_extractions(text)
    assert [(r.var, r.source, r.expr) for r in rules] == [
        ("token", "json", "data.access_token"),
        ("sid", "header", "X-Session"),
        ("id", "regex", '"id":(\\d+)'),
    ]
    again = sv.parse_extractions(sv.extractions_to_text([r.__dict__ for r in rules]))
    assert again == rules


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("token json:a", "Line 1: write"),
        ("9x = json:a", "is not a variable name"),
        ("a = json:a\na = json:b", "extracted twice"),
        ("a = json:", "say what to extract"),
        ("a = json:a..b", "not a dotted path"),
        ("a = regex:(", "regular expression is invalid"),
        ("a = regex:(x)(y)", "at most one group"),
        ("a = xpath://b", "Line 1: write"),
    ],
)
def test_a_bad_extraction_rule_is_explained(text, message):
    with pytest.raises(sv.ExtractionSyntaxError, match=re.escape(message)):
        sv.parse_extractions(text)


def _extract(rules_text: str, content: bytes, headers: dict[str, str] | None = None) -> dict[str, str]:
    extractor = sv.Extractor([r.__dict__ for r in sv.parse_extractions(rules_text)])
    values: dict[str, str] = {}
    extractor.apply(content=content, headers=headers or {}, into=values)
    return values


def test_json_paths_follow_keys_and_list_indexes():
    body = json.dumps(
        {"data": {"token": "t1"}, "items": [{"id": 5}, {"id": 6}], "ok": True, "n": None}
    ).encode()
    rules = "a = json:data.token\nb = json:items.1.id\nc = json:items.-1\nd = json:ok"
    assert _extract(rules, body) == {"a": "t1", "b": "6", "c": '{"id":6}', "d": "true"}


@pytest.mark.parametrize(
    ("rule", "content", "message"),
    [
        ("t = json:data.tokn", b'{"data": {"token": 1}}', "no “data.tokn” in the JSON response"),
        ("t = json:items.5.id", b'{"items": [1]}', "no “items.5” in the JSON response"),
        ("t = json:a.b", b'{"a": "text"}', "no “a.b”"),
        ("t = json:n", b'{"n": null}', "is null"),
        ("t = json:a", b"<html>", "the response is not JSON"),
        ("t = header:X-Missing", b"", "has no header “X-Missing”"),
        ("t = regex:id=(\\d+)", b"nothing", "does not match"),
    ],
)
def test_a_failed_extraction_says_what_was_missing(rule, content, message):
    with pytest.raises(sv.ExtractionError, match=re.escape(message)):
        _extract(rule, content)


def test_headers_match_without_case_and_regex_takes_its_group():
    values = _extract(
        "s = header:x-session\nid = regex:id=(\\d+)\nall = regex:ab+", b"id=42 abbb", {"X-Session": "S"}
    )
    assert values == {"s": "S", "id": "42", "all": "abbb"}


# -- whole scenario ----------------------------------------------------------------------------
def _step(**kw):
    return {"path": "/", "query": {}, "headers": {}, "body_type": "none", "body": "", "extract": [], **kw}


def test_names_used_come_from_path_query_headers_and_body():
    step = _step(
        path="/u/${a}",
        query={"q": "${b}", "l": ["${c}", "x"]},
        headers={"H": "${d}"},
        body_type="json",
        body='{"e": "${e}"}',
    )
    assert sv.step_names_used(step) == {"a", "b", "c", "d", "e"}
    # A body that is not sent is not a template.
    assert sv.step_names_used(_step(body="${x}")) == set()


def test_undefined_variables_allow_earlier_extractions_in_sequence_mode_only():
    steps = [
        _step(path="/login", extract=[{"var": "token", "source": "json", "expr": "t"}]),
        _step(path="/me", headers={"Authorization": "Bearer ${token}"}),
        _step(path="/u/${user}/${later}"),
        _step(path="/x", extract=[{"var": "later", "source": "json", "expr": "t"}]),
    ]
    assert sv.undefined_variables(mode="sequence", source_names=["user"], steps=steps) == [(2, ["later"])]
    assert sv.undefined_variables(mode="weighted", source_names=["user"], steps=steps) == [
        (1, ["token"]),
        (2, ["later"]),
    ]
