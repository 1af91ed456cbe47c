"""Every message survives encode -> decode in its own direction, and the wire bytes are fixed."""

from __future__ import annotations

import msgspec
import pytest

from protocol import (
    Ack,
    Cancel,
    ClientMessage,
    Error,
    Hello,
    Phase,
    Presence,
    ServerMessage,
    Start,
    State,
    Sync,
    Welcome,
    client_decoder,
    encode,
    server_decoder,
)

CLIENT_MESSAGES: list[ClientMessage] = [
    Hello(protocol=1),
    Hello(protocol=1, client="alice"),
    Hello(protocol=2, client="x" * 64),
    Start(request_id="r1"),
    Start(request_id="é" * 64),
    Cancel(request_id="r2"),
    Cancel(request_id="r3", calculation_id="0123456789ab"),
    Sync(request_id="s"),
]

SERVER_MESSAGES: list[ServerMessage] = [
    Welcome(protocol=1, server="0.1.0", epoch="b5d701f2ed9906ef", client_id="c1", clients=1),
    *(
        State(
            seq=seq,
            epoch="b5d701f2ed9906ef",
            calculation_id=None if phase is Phase.IDLE else "0123456789ab",
            state=phase,
            stage=stage,
            stage_elapsed=elapsed,
            stage_duration=2.0,
            started_by=None if phase is Phase.IDLE else "alice (c1)",
            ended_by="bob (c2)" if phase in (Phase.CANCELED, Phase.FAILED) else None,
        )
        for seq, (phase, stage, elapsed) in enumerate(
            [
                (Phase.IDLE, 0, 0.0),
                (Phase.STARTING, 0, 0.0),
                (Phase.IN_PROGRESS, 1, 0.25),
                (Phase.ALMOST_DONE, 2, 1.999),
                (Phase.SUCCESS, 3, 0.0),
                (Phase.CANCELED, 1, 0.731),
                (Phase.FAILED, 2, 1.5),
            ]
        )
    ),
    Ack(request_id="r1", accepted=True, seq=1),
    Ack(request_id="r2", accepted=False, reason="already_running", seq=4),
    Error(code="bad_message", message="Object missing required field `type`"),
    Error(code="unsupported_protocol", message="no", request_id="r9"),
    Presence(clients=0),
    Presence(clients=3),
]


def _label(message: msgspec.Struct) -> str:
    return type(message).__name__


def test_every_message_type_is_covered() -> None:
    client_types = {type(m) for m in CLIENT_MESSAGES}
    server_types = {type(m) for m in SERVER_MESSAGES}
    assert client_types == {Hello, Start, Cancel, Sync}
    assert server_types == {Welcome, State, Ack, Error, Presence}
    assert {s.state for s in SERVER_MESSAGES if isinstance(s, State)} == set(Phase)


@pytest.mark.parametrize("message", CLIENT_MESSAGES, ids=_label)
def test_client_message_round_trips(message: ClientMessage) -> None:
    assert client_decoder.decode(encode(message)) == message


@pytest.mark.parametrize("message", SERVER_MESSAGES, ids=_label)
def test_server_message_round_trips(message: ServerMessage) -> None:
    assert server_decoder.decode(encode(message)) == message


@pytest.mark.parametrize("message", CLIENT_MESSAGES, ids=_label)
def test_server_decoder_refuses_client_messages(message: ClientMessage) -> None:
    with pytest.raises(msgspec.ValidationError, match=r"Invalid value '\w+' - at `\$\.type`"):
        server_decoder.decode(encode(message))


@pytest.mark.parametrize("message", SERVER_MESSAGES, ids=_label)
def test_client_decoder_refuses_server_messages(message: ServerMessage) -> None:
    with pytest.raises(msgspec.ValidationError, match=r"Invalid value '\w+' - at `\$\.type`"):
        client_decoder.decode(encode(message))


@pytest.mark.parametrize(
    ("message", "wire"),
    [
        (
            State(
                seq=7,
                epoch="b5d701f2ed9906ef",
                calculation_id="0123456789ab",
                state=Phase.IN_PROGRESS,
                stage=1,
                stage_elapsed=0.25,
                stage_duration=2.0,
                started_by="alice (c1)",
            ),
            b'{"type":"state","seq":7,"epoch":"b5d701f2ed9906ef","calculation_id":"0123456789ab",'
            b'"state":"IN_PROGRESS","stage":1,"stages":3,"stage_elapsed":0.25,'
            b'"stage_duration":2.0,"started_by":"alice (c1)","ended_by":null,'
            b'"progress":null,"message":null,"exit_code":null,"canceling":false}',
        ),
        (
            Ack(request_id="r1", accepted=True, seq=1),
            b'{"type":"ack","request_id":"r1","accepted":true,"reason":null,"seq":1}',
        ),
        (
            Ack(request_id="r2", accepted=False, reason="already_running", seq=4),
            b'{"type":"ack","request_id":"r2","accepted":false,"reason":"already_running","seq":4}',
        ),
        (
            Welcome(
                protocol=1, server="0.1.0", epoch="b5d701f2ed9906ef", client_id="c1", clients=2
            ),
            b'{"type":"welcome","protocol":1,"server":"0.1.0","epoch":"b5d701f2ed9906ef",'
            b'"client_id":"c1","clients":2}',
        ),
        (
            Error(code="rate_limited", message="too many messages; slow down"),
            b'{"type":"error","code":"rate_limited","message":"too many messages; slow down",'
            b'"request_id":null}',
        ),
        (Presence(clients=2), b'{"type":"presence","clients":2}'),
        (Hello(protocol=1, client="cli"), b'{"type":"hello","protocol":1,"client":"cli"}'),
        (Start(request_id="r1"), b'{"type":"start","request_id":"r1"}'),
        (Cancel(request_id="r2"), b'{"type":"cancel","request_id":"r2","calculation_id":null}'),
        (Sync(request_id="s1"), b'{"type":"sync","request_id":"s1"}'),
    ],
    ids=lambda v: _label(v) if isinstance(v, msgspec.Struct) else "",
)
def test_exact_bytes(message: msgspec.Struct, wire: bytes) -> None:
    assert encode(message) == wire


def test_minimal_client_frames_decode() -> None:
    """What a hand-typing wscat user sends: optional fields may be left out."""
    assert client_decoder.decode(b'{"type":"hello","protocol":1}') == Hello(protocol=1)
    assert client_decoder.decode(b'{"type":"cancel","request_id":"r"}') == Cancel(request_id="r")
    assert client_decoder.decode(
        b'{"request_id":"r","calculation_id":null,"type":"cancel"}'
    ) == Cancel(request_id="r")


def test_unknown_fields_are_ignored() -> None:
    """Optional fields added later must not break older peers."""
    assert client_decoder.decode(b'{"type":"start","request_id":"r","extra":[1,{"a":2}]}') == (
        Start(request_id="r")
    )
    assert server_decoder.decode(b'{"type":"presence","clients":1,"future":true}') == Presence(
        clients=1
    )


def test_a_welcome_without_features_decodes_as_offering_none() -> None:
    """Servers from before ``features`` existed still say a welcome every client can read."""
    old = (
        b'{"type":"welcome","protocol":1,"server":"0.1.0","epoch":"e","client_id":"c1","clients":1}'
    )
    welcome = server_decoder.decode(old)
    assert isinstance(welcome, Welcome)
    assert welcome.features == []
