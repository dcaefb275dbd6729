"""runs.core.engine.protocol, parent → child: the start line and the engine options round-trip
through encode_start/parse_start; a bad or missing field is refused by name."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runs.core.engine import protocol
from runs.core.engine.protocol import (
    LocalOptions,
    MasterOptions,
    Pin,
    ProtocolError,
    WorkerOptions,
    encode_start,
    parse_start,
)

PIN = Pin(host="shop.example.com", port=443, address="203.0.113.7")


def _snapshot(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": 1,
        "plan": {"id": 1, "name": "p", "notes": ""},
        "generators": 1,
        "target": {
            "base_url": "https://shop.example.com",
            "headers": {"X-Test": 1},
            "auth_type": "bearer",
            "auth_username": "",
            "auth_password": "",
            "auth_token": "t0ken",
            "verify_tls": False,
            "timeout_seconds": 5,
        },
        "scenario": {
            "kind": "steps",
            "mode": "sequence",
            "user_class": "http",
            "think_time_min": 0.5,
            "think_time_max": 1,
            "sources": [{"kind": "csv", "mode": "random", "columns": ["user"], "rows": [["alice"], ["bob"]]}],
            "steps": [
                {
                    "name": "login",
                    "method": "post",
                    "path": "/login",
                    "query": {"a": ["1", "2"]},
                    "headers": {},
                    "body_type": "json",
                    "body": '{"u": "${user}"}',
                    "weight": 3,
                    "expected_statuses": "200-299",
                    "extract": [{"var": "token", "source": "json", "expr": "token"}],
                }
            ],
        },
        "profile": {"kind": "constant", "params": {"users": 2, "duration": 3}},
        "thresholds": [],
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    "options",
    [
        LocalOptions(stop_timeout=1.5, pin=PIN),
        LocalOptions(),
        MasterOptions(generators=3, bind_host="0.0.0.0", join_timeout=12.0, pin=PIN),
        WorkerOptions(index=2, master_host="10.0.0.5", master_port=41234, master_timeout=7, pin=None),
    ],
)
def test_engine_options_round_trip(options: protocol.EngineOptions) -> None:
    start = parse_start(encode_start(_snapshot(), options))
    assert start.engine == options
    assert type(start.engine) is type(options)


def test_the_snapshot_parses_into_typed_fields() -> None:
    start = parse_start(encode_start(_snapshot(), LocalOptions(stop_timeout=1.0)))
    assert start.target.base_url == "https://shop.example.com"
    assert start.target.headers == {"X-Test": "1"}
    assert (start.target.auth_type, start.target.auth_token, start.target.verify_tls) == (
        "bearer",
        "t0ken",
        False,
    )
    assert start.target.timeout_seconds == 5.0
    scenario = start.scenario
    assert (scenario.kind, scenario.mode, scenario.user_class) == ("steps", "sequence", "http")
    assert (scenario.think_time_min, scenario.think_time_max) == (0.5, 1.0)
    assert scenario.sources == (
        protocol.SourceSpec(columns=("user",), rows=[["alice"], ["bob"]], mode="random"),
    )
    (step,) = scenario.steps
    assert (step.method, step.path, step.weight, step.body_type) == ("POST", "/login", 3, "json")
    assert step.extract == (protocol.ExtractSpec(var="token", source="json", expr="token"),)
    assert start.profile == protocol.ProfileSpec(kind="constant", params={"users": 2, "duration": 3})


def test_left_out_and_empty_fields_take_the_documented_defaults() -> None:
    line = json.dumps(
        {
            "target": {"base_url": "http://127.0.0.1:9", "timeout_seconds": 0, "auth_type": None},
            "scenario": {"steps": [{"path": "", "weight": 0, "expected_statuses": "", "name": None}]},
            "profile": {"kind": "constant", "params": {}},
        }
    )
    start = parse_start(line)
    assert start.engine == LocalOptions(stop_timeout=protocol.DEFAULT_STOP_TIMEOUT, pin=None)
    assert start.target == protocol.TargetSpec(
        base_url="http://127.0.0.1:9",
        headers={},
        auth_type="none",
        auth_username="",
        auth_password="",
        auth_token="",
        verify_tls=True,
        timeout_seconds=30.0,
    )
    assert (start.scenario.kind, start.scenario.mode, start.scenario.user_class) == (
        "steps",
        "weighted",
        "fast",
    )
    assert start.scenario.steps == (
        protocol.StepSpec(
            name="",
            method="GET",
            path="/",
            query={},
            headers={},
            body_type="none",
            body="",
            weight=1,
            expected_statuses="200-399",
        ),
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.pop("target"), "target must be an object"),
        (lambda s: s["target"].pop("base_url"), "target.base_url must be a non-empty string"),
        (lambda s: s["target"].update(auth_type="digest"), "target.auth_type: unknown auth type 'digest'"),
        (lambda s: s["target"].update(verify_tls="yes"), "target.verify_tls must be true or false"),
        (lambda s: s["target"].update(timeout_seconds="5"), "target.timeout_seconds must be a number"),
        (lambda s: s["scenario"].update(mode="random"), "scenario.mode: unknown scenario mode 'random'"),
        (lambda s: s["scenario"].update(steps="GET /"), "scenario.steps must be a list"),
        (
            lambda s: s["scenario"]["steps"][0].update(weight=-1),
            "scenario.steps[0].weight must be a positive integer",
        ),
        (lambda s: s["scenario"]["steps"][0].update(query=[1]), "scenario.steps[0].query must be an object"),
        (
            lambda s: s["scenario"]["steps"][0]["extract"][0].pop("var"),
            "scenario.steps[0].extract[0].var must be a non-empty string",
        ),
        (
            lambda s: s["scenario"]["sources"][0].update(rows=[["a", "b"]]),
            "scenario.sources[0].rows must be a list of rows of 1 values",
        ),
        (lambda s: s["profile"].update(params=None), "profile.params must be an object"),
        (
            lambda s: s.update(engine={"mode": "swarm"}),
            "engine.mode must be one of local, master, worker, not 'swarm'",
        ),
        (lambda s: s.update(engine={"mode": "master"}), "engine.generators must be an integer"),
        (
            lambda s: s.update(engine={"mode": "worker", "index": 0, "master_port": 1}),
            "engine.master_host must be a non-empty string",
        ),
        (lambda s: s.update(engine={"stop_timeout": "soon"}), "engine.stop_timeout must be a number"),
        (
            lambda s: s.update(engine={"pin": {"host": "h", "port": 0, "address": "a"}}),
            "engine.pin.port must be >= 1",
        ),
    ],
)
def test_a_bad_or_missing_field_is_refused_by_name(change: Any, message: str) -> None:
    snapshot = _snapshot()
    change(snapshot)
    with pytest.raises(ProtocolError) as caught:
        parse_start(json.dumps(snapshot))
    assert str(caught.value) == message


@pytest.mark.parametrize("line", [b"not json", b"[1, 2]", b"\xff\xfe"])
def test_a_start_line_that_is_not_a_json_object_is_refused(line: bytes) -> None:
    with pytest.raises(ProtocolError, match="the start line"):
        parse_start(line)


def test_a_second_payload_encodes_to_a_line_the_parent_parses() -> None:
    payload: protocol.SecondPayload = {
        "type": "second",
        "epoch": 1_760_000_003,
        "users": 2,
        "cpu_percent": None,
        "dropped_iterations": 0,
        "endpoints": [],
        "errors": [{"method": "GET", "name": "/", "error_class": "E", "message": "m", "count": 2}],
    }
    message = protocol.parse_line(protocol.encode_second(payload))
    assert message == protocol.SecondMessage(
        epoch=1_760_000_003,
        users=2,
        cpu_percent=None,
        errors=(protocol.ErrorCount("GET", "/", "E", "m", 2),),
    )


def test_a_workers_report_to_its_master_is_checked_for_shape() -> None:
    seconds = [{"type": "second", "epoch": 5, "users": 1, "cpu_percent": None, "endpoints": [], "errors": []}]
    data = {"stats": [], protocol.REPORT_KEY: {"index": 1, "through": 6, "seconds": seconds}}
    assert protocol.parse_worker_report(data) == {"index": 1, "through": 6, "seconds": seconds}
    before_load: dict[str, Any] = {protocol.REPORT_KEY: {"index": 0, "through": None, "seconds": []}}
    assert protocol.parse_worker_report(before_load) == {"index": 0, "through": None, "seconds": []}
    assert protocol.parse_worker_report({"stats": []}) is None  # a worker that is not ours


@pytest.mark.parametrize(
    ("part", "message"),
    [
        ({"through": 1, "seconds": []}, "report.index must be an integer"),
        ({"index": 1001, "through": 1, "seconds": []}, "report.index must be <= 1000"),
        ({"index": 0, "through": "6", "seconds": []}, "report.through must be an integer"),
        ({"index": 0, "through": 6, "seconds": [5]}, "report.seconds must be a list of objects"),
    ],
)
def test_a_bad_worker_report_is_refused_by_name(part: dict[str, Any], message: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_worker_report({protocol.REPORT_KEY: part})
    assert str(caught.value) == message
