"""runs.core.engine.protocol: each message kind parses; malformed lines are refused with a reason."""

from __future__ import annotations

import json

import pytest

from runs.core.engine import protocol
from runs.core.engine.protocol import (
    DoneMessage,
    EndpointSecond,
    ErrorCount,
    FatalMessage,
    HelloMessage,
    ProtocolError,
    SecondMessage,
    parse_line,
)
from runs.core.histogram import Histogram


def _hist(*values_ms: float) -> dict:
    h = Histogram()
    for v in values_ms:
        h.record_ms(v)
    return h.to_dict()


def _second(**overrides: object) -> dict:
    data = {
        "type": "second",
        "epoch": 1_760_000_003,
        "users": 5,
        "cpu_percent": 12.5,
        "endpoints": [
            {
                "method": "GET",
                "name": "/delay",
                "requests": 2,
                "failures": 1,
                "bytes": 6,
                "histogram": _hist(10, 20),
            }
        ],
        "errors": [
            {
                "method": "GET",
                "name": "/delay",
                "error_class": "UnexpectedStatus",
                "message": "HTTP 503",
                "count": 1,
            }
        ],
    }
    data.update(overrides)
    return data


def test_hello_parses() -> None:
    line = b'{"type":"hello","locust_version":"2.47.0","pid":42,"start_epoch":1760000000}\n'
    assert parse_line(line) == HelloMessage("2.47.0", 42, 1_760_000_000)


def test_second_parses_into_typed_endpoints_and_errors() -> None:
    msg = parse_line(json.dumps(_second()))
    assert isinstance(msg, SecondMessage)
    assert msg.epoch == 1_760_000_003 and msg.users == 5 and msg.cpu_percent == 12.5
    assert msg.endpoints == (EndpointSecond("GET", "/delay", 2, 1, 6, _hist(10, 20)),)
    assert msg.errors == (ErrorCount("GET", "/delay", "UnexpectedStatus", "HTTP 503", 1),)
    assert msg.requests == 2


def test_an_empty_second_is_valid() -> None:
    msg = parse_line(json.dumps(_second(endpoints=[], errors=[], cpu_percent=None)))
    assert isinstance(msg, SecondMessage)
    assert msg.requests == 0 and msg.cpu_percent is None


def test_dropped_iterations_are_optional_so_older_seconds_still_parse() -> None:
    old = parse_line(json.dumps(_second()))
    assert isinstance(old, SecondMessage) and old.dropped_iterations == 0
    open_model = parse_line(json.dumps(_second(dropped_iterations=30)))
    assert isinstance(open_model, SecondMessage) and open_model.dropped_iterations == 30


def test_done_and_fatal_parse() -> None:
    assert parse_line('{"type":"done","reason":"finished"}') == DoneMessage("finished")
    assert parse_line('{"type":"fatal","message":"boom"}') == FatalMessage("boom")


@pytest.mark.parametrize(
    "message",
    [
        HelloMessage("2.47.0", 1, 5),
        DoneMessage("signal"),
        FatalMessage("x"),
        SecondMessage(7, 3, 1.5, (EndpointSecond("POST", "/e", 1, 0, 2, _hist(3)),), ()),
        SecondMessage(8, 5, None, (), (), dropped_iterations=12),
    ],
)
def test_encoding_round_trips(message: protocol.Message) -> None:
    line = protocol.encode(message)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert parse_line(line) == message


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"", "empty line"),
        (b"not json", "not JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b"\xff\xfe", "not UTF-8"),
        (b'{"type":"bye"}', "unknown message type"),
        (b'{"locust_version":"2"}', "unknown message type"),
        (b'{"type":"hello","locust_version":"2.47.0","pid":0,"start_epoch":1}', "pid must be >= 1"),
        (b'{"type":"hello","locust_version":"2.47.0","pid":"7","start_epoch":1}', "pid must be an integer"),
        (
            b'{"type":"hello","locust_version":"","pid":7,"start_epoch":1}',
            "locust_version must be a non-empty",
        ),
        (b'{"type":"done","reason":"bored"}', "unknown done reason"),
        (b'{"type":"fatal"}', "message must be"),
    ],
)
def test_malformed_lines_are_refused(line: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        parse_line(line)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"epoch": -1}, "epoch must be >= 0"),
        ({"users": True}, "users must be an integer"),
        ({"cpu_percent": -3}, "cpu_percent"),
        ({"dropped_iterations": -1}, "dropped_iterations must be >= 0"),
        ({"dropped_iterations": 2.5}, "dropped_iterations must be an integer"),
        ({"dropped_iterations": None}, "dropped_iterations must be an integer"),
        ({"cpu_percent": "high"}, "cpu_percent"),
        ({"endpoints": {}}, "endpoints must be a list"),
        ({"endpoints": ["GET /"]}, "an endpoint must be an object"),
        (
            {
                "endpoints": [
                    {
                        "method": "GET",
                        "name": "/",
                        "requests": 1,
                        "failures": 2,
                        "bytes": 0,
                        "histogram": _hist(1),
                    }
                ]
            },
            "failures exceed requests",
        ),
        (
            {
                "endpoints": [
                    {
                        "method": "GET",
                        "name": "/",
                        "requests": 3,
                        "failures": 0,
                        "bytes": 0,
                        "histogram": _hist(1),
                    }
                ]
            },
            "histogram holds 1 samples for 3 requests",
        ),
        (
            {
                "endpoints": [
                    {
                        "method": "GET",
                        "name": "/",
                        "requests": 1,
                        "failures": 0,
                        "bytes": 0,
                        "histogram": {"k": [1, 2], "c": [1]},
                    }
                ]
            },
            "bad histogram",
        ),
        (
            {
                "endpoints": [
                    {
                        "method": "GET",
                        "name": "/",
                        "requests": 1,
                        "failures": 0,
                        "bytes": -1,
                        "histogram": _hist(1),
                    }
                ]
            },
            "bytes must be >= 0",
        ),
        (
            {"errors": [{"method": "GET", "name": "/", "error_class": "E", "message": "m", "count": 0}]},
            "count must be >= 1",
        ),
        (
            {
                "errors": [
                    {"method": "GET", "name": "/", "error_class": "E", "message": "m" * 501, "count": 1}
                ]
            },
            "message is longer than 500",
        ),
    ],
)
def test_malformed_seconds_are_refused(overrides: dict, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        parse_line(json.dumps(_second(**overrides)))


def test_commands_parse_and_unknown_ones_are_refused() -> None:
    assert protocol.parse_command(protocol.encode_stop()) == protocol.StopCommand()
    with pytest.raises(ProtocolError):
        protocol.parse_command(b'{"cmd":"explode"}')
    with pytest.raises(ProtocolError):
        protocol.parse_command(b"stop")
