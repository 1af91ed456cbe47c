"""Case 8: random and mutated frames from a real client get the documented answer, each one.

Every frame's expected answer comes from the protocol's own decoder, applied locally: a frame
it rejects must get ``error bad_message`` (naming the request id when one is readable), a valid
command its ``ack``, a valid ``hello`` nothing (or ``unsupported_protocol``); a binary frame
closes 1003 and a frame of 64 KiB or more closes 1009. After every frame a ``sync`` probe
proves the connection is still usable and marks where the answer ends. A well-behaved client
connected the whole time sees only welcome, state and presence, with no gap in ``seq``.

The frames come from a seeded generator (set ``CALC_FUZZ_SEED`` to replay a run, and
``CALC_FUZZ_FRAMES`` for a longer one). Each fuzz
connection sends at most 10 frames and 10 probes, inside the server's burst of 20, so the rate
limit never answers in place of the frame.
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections.abc import Callable
from dataclasses import dataclass

import msgspec
import pytest
from aiohttp import WSMsgType

from calc_server.runner import RunningServer
from protocol import (
    PROTOCOL_VERSION,
    Ack,
    Cancel,
    Error,
    Hello,
    Presence,
    ServerMessage,
    Start,
    State,
    Sync,
    Welcome,
    client_decoder,
    encode,
)
from protocol.codec import request_id_of
from tests.conftest import ServerFactory
from tests.wsclient import RawClient

SEED = int(os.environ.get("CALC_FUZZ_SEED", "20240607"))
FRAMES = int(os.environ.get("CALC_FUZZ_FRAMES", "1000"))
PER_CONNECTION = 10
MAX_TEXT = 64 * 1024
"""A text frame of this many bytes or more is refused with 1009."""

TAGS = ["hello", "start", "cancel", "sync", "welcome", "state", "ack", "error", "presence", "x"]
FIELDS = ["type", "request_id", "calculation_id", "protocol", "client", "seq", "state", "z"]
NASTY_STRINGS = ["", "a" * 64, "a" * 65, "\u0000", "\u202e", "\\", '"', "é", "\ud800", "💥"]
NASTY_NUMBERS = [
    "0",
    "-1",
    "1" + "0" * 400,
    "-" + "9" * 30,
    "18446744073709551616",
    "1e400",
    "-1e400",
    "1e-400",
    "NaN",
    "Infinity",
    "0x10",
    "01",
    "1.",
    ".5",
]


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame to send and the kind of thing it is."""

    data: bytes
    kind: str
    binary: bool = False


class FrameMaker:
    """Seeded generator of hostile frames: random, shaped wrong, mutated from valid ones."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def frame(self) -> Frame:
        makers: list[tuple[str, Callable[[], bytes]]] = [
            ("random bytes", self.random_bytes),
            ("json of a wrong shape", self.wrong_shape),
            ("mutated message", self.mutated),
            ("huge number", self.huge_number),
            ("deep nesting", self.deep_nesting),
            ("invalid utf-8", self.invalid_utf8),
            ("control characters", self.control_characters),
            ("valid message", self.valid),
        ]
        roll = self.rng.random()
        if roll < 0.02:
            return Frame(self.random_bytes(), "binary frame", binary=True)
        if roll < 0.04:
            return Frame(self.oversized(), "oversized frame")
        kind, make = self.rng.choice(makers)
        return Frame(make(), kind)

    def random_bytes(self) -> bytes:
        return self.rng.randbytes(self.rng.randint(0, 200))

    def json_value(self, depth: int = 0) -> object:
        r = self.rng.random()
        if depth > 3 or r < 0.5:
            return self.rng.choice(
                [
                    None,
                    True,
                    False,
                    self.rng.randint(-(2**70), 2**70),
                    self.rng.uniform(-1e300, 1e300),
                    self.rng.choice(NASTY_STRINGS),
                    self.rng.choice(TAGS),
                ]
            )
        if r < 0.7:
            return [self.json_value(depth + 1) for _ in range(self.rng.randint(0, 4))]
        size = self.rng.randint(0, 5)
        return {self.rng.choice(FIELDS): self.json_value(depth + 1) for _ in range(size)}

    def wrong_shape(self) -> bytes:
        value = self.json_value()
        if isinstance(value, dict) and self.rng.random() < 0.7:
            value["type"] = self.rng.choice(TAGS)
        return json.dumps(value).encode(errors="surrogatepass")

    def valid_message(self) -> msgspec.Struct:
        rid = self.rng.choice(["r", "r1", "x" * 64, "é💥", "\u0000"])
        return self.rng.choice(
            [
                Hello(protocol=PROTOCOL_VERSION, client=self.rng.choice(["fuzz", "a\u202eb"])),
                Hello(protocol=self.rng.randint(-5, 5)),
                Start(request_id=rid),
                Cancel(request_id=rid),
                Cancel(request_id=rid, calculation_id="deadbeef0000"),
                Sync(request_id=rid),
            ]
        )

    def valid(self) -> bytes:
        return encode(self.valid_message())

    def mutated(self) -> bytes:
        data = bytearray(self.valid())
        for _ in range(self.rng.randint(1, 3)):
            if not data:
                break
            i = self.rng.randrange(len(data))
            match self.rng.randrange(6):
                case 0:
                    data[i] ^= 1 << self.rng.randrange(8)
                case 1:
                    data.insert(i, self.rng.randrange(256))
                case 2:
                    del data[i]
                case 3:
                    del data[i:]
                case 4:
                    data[i:i] = data[: self.rng.randint(1, 20)]
                case _:
                    data[i:i] = self.rng.choice(
                        [b"\xc3\x28", b"\x00", b"\x1f", b"[[[[", b"1e999", b'"', b"\\u"]
                    )
        return bytes(data)

    def huge_number(self) -> bytes:
        number = self.rng.choice(NASTY_NUMBERS).encode()
        template = self.rng.choice(
            [
                b'{"type":"hello","protocol":%s}',
                b'{"type":"start","request_id":%s}',
                b'{"type":"cancel","request_id":"r","calculation_id":%s}',
                b'{"type":"sync","request_id":"r","seq":%s}',
                b"%s",
                b"[%s]",
            ]
        )
        return template % number

    def deep_nesting(self) -> bytes:
        depth = self.rng.choice([10, 100, 5_000, 20_000])
        closed = self.rng.random() < 0.5
        nested = b"[" * depth + b"1" + (b"]" * depth if closed else b"")
        where = self.rng.randrange(3)
        if where == 0:
            return nested
        if where == 1:
            return b'{"type":"sync","request_id":"deep","x":' + nested + b"}"
        return b'{"x":' + nested + b',"type":"start","request_id":"deep"}'

    def invalid_utf8(self) -> bytes:
        bad = self.rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"])
        template = self.rng.choice(
            [
                b'{"type":"sync","request_id":"%s"}',
                b'{"type":"hello","protocol":1,"client":"%s"}',
                b'{"type":"start","request_id":"ok","%s":1}',
                b"%s",
            ]
        )
        return template % bad

    def control_characters(self) -> bytes:
        ch = bytes([self.rng.choice([*range(0x20), 0x7F])])
        escaped = b"\\u%04x" % ch[0]
        return self.rng.choice(
            [
                b'{"type":"sync","request_id":"a%sb"}' % ch,  # raw: not JSON
                b'{"type":"sync","request_id":"a%sb"}' % escaped,  # escaped: valid
                b'{"type":"hello","protocol":1,"client":"%s"}' % escaped,
                ch + b'{"type":"sync","request_id":"r"}',
                b'{"type":"sync","request_id":"r"}' + ch,
            ]
        )

    def oversized(self) -> bytes:
        size = self.rng.choice([MAX_TEXT, MAX_TEXT + 1, 200_000])
        head = b'{"type":"sync","request_id":"'
        return head + b"x" * (size - len(head) - 2) + b'"}'


def expected_answer(frame: Frame) -> str:
    """What the documented protocol says the server answers to ``frame``."""
    if frame.binary:
        return "close 1003"
    if len(frame.data) >= MAX_TEXT:
        return "close 1009"
    try:
        message = client_decoder.decode(frame.data)
    except msgspec.DecodeError:
        return "error bad_message"
    match message:
        case Hello(protocol=protocol):
            return "nothing" if protocol == PROTOCOL_VERSION else "error unsupported_protocol"
        case Start() | Cancel() | Sync():
            return "ack"
    raise AssertionError(message)


def describe(answer: list[ServerMessage]) -> str:
    """The answer as ``expected_answer`` words it; states and presence are not answers."""
    replies = [m for m in answer if not isinstance(m, State | Presence)]
    if not replies:
        return "nothing"
    assert len(replies) == 1, replies
    match replies[0]:
        case Error(code=code):
            return f"error {code}"
        case Ack():
            return "ack"
    return f"unexpected {replies[0]!r}"


async def open_fuzzer(server: RunningServer) -> RawClient:
    client = await RawClient.open(server.url, max_msg_size=1 << 20)
    await client.expect(Welcome, since=0)
    await client.expect(State, since=0)
    return client


async def test_hostile_frames_get_documented_answers_and_a_bystander_sees_nothing_unusual(
    server_factory: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="calc_server")
    server = await server_factory(stage_seconds=0.2)
    maker = FrameMaker(SEED)
    bystander = await open_fuzzer(server)
    tally: dict[str, int] = {}
    connections = 0
    fuzzer: RawClient | None = None
    try:
        for n in range(FRAMES):
            if fuzzer is None or n % PER_CONNECTION == 0:
                if fuzzer is not None:
                    await fuzzer.close()
                fuzzer = await open_fuzzer(server)
                connections += 1
            frame = maker.frame()
            expected = expected_answer(frame)
            tally[frame.kind] = tally.get(frame.kind, 0) + 1
            context = f"seed {SEED} frame {n} ({frame.kind}): {frame.data[:120]!r}"
            before = fuzzer.mark()  # a large frame's send can yield: its answer comes after
            if frame.binary:
                await fuzzer.ws.send_bytes(frame.data)
            else:
                await fuzzer.ws.send_frame(frame.data, WSMsgType.TEXT)
            if expected.startswith("close"):
                code = await fuzzer.wait_closed()
                assert f"close {code}" == expected, context
                await fuzzer.close()
                fuzzer = None
                continue
            probe = f"probe{n}"
            await fuzzer.ack(probe, since=await fuzzer.send(Sync(request_id=probe)))
            answer = fuzzer.messages[before:]
            answer = answer[: next(i for i, m in enumerate(answer) if _is_ack(m, probe))]
            got = describe(answer)
            assert got == expected, context
            if expected == "error bad_message":
                error = next(m for m in answer if isinstance(m, Error))
                assert error.request_id == request_id_of(frame.data), context
    finally:
        if fuzzer is not None:
            await fuzzer.close()

    # the bystander: still connected, only the messages any client gets, and no gap in seq
    sent = await bystander.send(Sync(request_id="still-there"))
    assert (await bystander.ack("still-there", since=sent)).accepted
    kinds = {type(m) for m in bystander.messages[:-2]}
    assert kinds <= {Welcome, State, Presence}, kinds
    assert isinstance(bystander.messages[0], Welcome)
    seqs = sorted({s.seq for s in bystander.states()})
    assert seqs == list(range(seqs[0], seqs[-1] + 1))
    assert bystander.ws.closed is False
    await bystander.close()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "no traceback, no 1011"
    print(
        f"\nFIGURES fuzz: seed={SEED} frames={FRAMES} connections={connections} "
        f"by kind={dict(sorted(tally.items()))} bystander messages={len(bystander.messages)} "
        "unexpected=0"
    )


def _is_ack(message: ServerMessage, request_id: str) -> bool:
    return isinstance(message, Ack) and message.request_id == request_id
