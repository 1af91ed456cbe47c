"""Bad input to the client-message decoder fails with a DecodeError that says what was wrong.

The server sends ``str(exc)`` as the ``message`` of an ``error`` ``bad_message``, so the text is
part of what clients see; these are the exact strings msgspec 0.22 produces.
"""

from __future__ import annotations

import msgspec
import pytest

from protocol import client_decoder
from protocol.codec import TOO_DEEP


@pytest.mark.parametrize(
    ("frame", "text"),
    [
        pytest.param(b"nope", "JSON is malformed: invalid character (byte 4)", id="not-json"),
        pytest.param(b"", "Input data was truncated", id="empty-frame"),
        pytest.param(b'{"type":"start"', "Input data was truncated", id="truncated"),
        pytest.param(
            b'{"type":"start","request_id":"r"} x',
            "JSON is malformed: trailing characters (byte 35)",
            id="trailing-garbage",
        ),
    ],
)
def test_not_json(frame: bytes, text: str) -> None:
    with pytest.raises(msgspec.DecodeError) as info:
        client_decoder.decode(frame)
    assert not isinstance(info.value, msgspec.ValidationError)
    assert str(info.value) == text


@pytest.mark.parametrize(
    ("frame", "text"),
    [
        pytest.param(
            b'{"type":"bogus","request_id":"r"}',
            "Invalid value 'bogus' - at `$.type`",
            id="unknown-type",
        ),
        pytest.param(
            b'{"type":"welcome","protocol":1}',
            "Invalid value 'welcome' - at `$.type`",
            id="server-type-from-client",
        ),
        pytest.param(
            b'{"request_id":"r"}', "Object missing required field `type`", id="missing-type"
        ),
        pytest.param(b'{"type":1}', "Expected `str` - at `$.type`", id="type-not-a-string"),
        pytest.param(b"[]", "Expected `object`, got `array`", id="not-an-object"),
        pytest.param(b'"start"', "Expected `object`, got `str`", id="bare-string"),
        pytest.param(
            b'{"type":"start"}',
            "Object missing required field `request_id`",
            id="missing-field",
        ),
        pytest.param(
            b'{"type":"hello"}', "Object missing required field `protocol`", id="hello-no-protocol"
        ),
        pytest.param(
            b'{"type":"start","request_id":1}',
            "Expected `str`, got `int` - at `$.request_id`",
            id="wrong-field-type",
        ),
        pytest.param(
            b'{"type":"start","request_id":null}',
            "Expected `str`, got `null` - at `$.request_id`",
            id="null-request-id",
        ),
        pytest.param(
            b'{"type":"hello","protocol":"1"}',
            "Expected `int`, got `str` - at `$.protocol`",
            id="protocol-as-string",
        ),
        pytest.param(
            b'{"type":"cancel","request_id":"r","calculation_id":5}',
            "Expected `str | null`, got `int` - at `$.calculation_id`",
            id="calculation-id-int",
        ),
        pytest.param(
            b'{"type":"start","request_id":"' + b"x" * 65 + b'"}',
            "Expected `str` of length <= 64 - at `$.request_id`",
            id="request-id-too-long",
        ),
        pytest.param(
            b'{"type":"start","request_id":""}',
            "Expected `str` of length >= 1 - at `$.request_id`",
            id="request-id-empty",
        ),
        pytest.param(
            b'{"type":"hello","protocol":1,"client":"' + b"n" * 65 + b'"}',
            "Expected `str` of length <= 64 - at `$.client`",
            id="client-name-too-long",
        ),
        pytest.param(
            b'{"type":"hello","protocol":1,"client":""}',
            "Expected `str` of length >= 1 - at `$.client`",
            id="client-name-empty",
        ),
    ],
)
def test_invalid_message(frame: bytes, text: str) -> None:
    with pytest.raises(msgspec.ValidationError) as info:
        client_decoder.decode(frame)
    assert str(info.value) == text


def test_request_id_limits_count_characters_not_bytes() -> None:
    assert client_decoder.decode('{"type":"sync","request_id":"' + "é" * 64 + '"}')
    with pytest.raises(msgspec.ValidationError) as info:
        client_decoder.decode('{"type":"sync","request_id":"' + "é" * 65 + '"}')
    assert str(info.value) == "Expected `str` of length <= 64 - at `$.request_id`"


@pytest.mark.parametrize("depth", [5_000, 30_000])
def test_deep_nesting_in_an_ignored_field_is_a_decode_error(depth: int) -> None:
    """msgspec skips unknown fields recursively; its RecursionError must not escape."""
    frame = b'{"type":"start","x":' + b"[" * depth + b"]" * depth + b',"request_id":"r"}'
    with pytest.raises(msgspec.DecodeError) as info:
        client_decoder.decode(frame)
    assert str(info.value) == TOO_DEEP
