"""Property: any input to either decoder decodes or raises ``msgspec.DecodeError``; nothing else.

Both decoders face the network: the server decodes whatever a client sends, clients decode
whatever answers on the URL they were given.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import (
    Ack,
    Cancel,
    Error,
    Hello,
    Presence,
    Start,
    State,
    Sync,
    Welcome,
    client_decoder,
    encode,
    server_decoder,
)
from protocol.messages import CLIENT_NAME_PATTERN as NAME_PATTERN

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CLIENT_TYPES = (Hello, Start, Cancel, Sync)
SERVER_TYPES = (Welcome, State, Ack, Error, Presence)
TAGS = [t.__struct_config__.tag for t in (*CLIENT_TYPES, *SERVER_TYPES)]
FIELDS = sorted({f for t in (*CLIENT_TYPES, *SERVER_TYPES) for f in t.__struct_fields__})

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=70)
    | st.sampled_from(TAGS),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.sampled_from(FIELDS), children, max_size=4)
    ),
    max_leaves=25,
)
"""Any JSON value (NaN and huge integers included, which json.dumps writes as non-JSON)."""

message_like = st.fixed_dictionaries(
    {"type": st.sampled_from(TAGS)},
    optional=dict.fromkeys(FIELDS, json_values),
)
"""Objects with a real tag and real field names holding arbitrary values."""


@st.composite
def deeply_nested(draw: st.DrawFn) -> str:
    """Arrays nested up to 20,000 deep (inside 64 KiB), bare or as a message field's value."""
    depth = draw(st.integers(min_value=0, max_value=20_000))
    inner = json.dumps(draw(json_values))
    closed = draw(st.booleans())
    nested = "[" * depth + inner + ("]" * depth if closed else "")
    where = draw(st.sampled_from(["bare", "known-field", "unknown-field", "before-type"]))
    tag = draw(st.sampled_from(TAGS))
    if where == "bare":
        return nested
    if where == "before-type":
        return f'{{"x":{nested},"type":"{tag}","request_id":"r"}}'
    field = draw(st.sampled_from(FIELDS)) if where == "known-field" else "x"
    return f'{{"type":"{tag}","request_id":"r","{field}":{nested}}}'


def _decode_both(data: bytes) -> None:
    for decoder, types in ((client_decoder, CLIENT_TYPES), (server_decoder, SERVER_TYPES)):
        try:
            message: Any = decoder.decode(data)
        except msgspec.DecodeError:
            continue
        assert isinstance(message, types)


@FUZZ
@given(st.binary(max_size=512))
def test_any_bytes(data: bytes) -> None:
    _decode_both(data)


@FUZZ
@given(json_values)
def test_any_json_value(value: Any) -> None:
    _decode_both(json.dumps(value).encode())


@FUZZ
@given(message_like)
def test_any_message_shaped_object(value: dict[str, Any]) -> None:
    _decode_both(json.dumps(value).encode())


@FUZZ
@given(deeply_nested())
def test_deeply_nested_arrays(text: str) -> None:
    _decode_both(text.encode())


request_ids = st.text(min_size=1, max_size=64)
client_messages = st.one_of(
    st.builds(
        Hello,
        protocol=st.integers(),
        client=st.none()
        | st.from_regex(NAME_PATTERN, fullmatch=True).filter(lambda n: len(n) <= 64),
    ),
    st.builds(Start, request_id=request_ids),
    st.builds(Cancel, request_id=request_ids, calculation_id=st.none() | st.text()),
    st.builds(Sync, request_id=request_ids),
)


@FUZZ
@given(client_messages)
def test_any_valid_client_message_round_trips(message: Any) -> None:
    assert client_decoder.decode(encode(message)) == message
