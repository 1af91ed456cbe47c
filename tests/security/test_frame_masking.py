"""RFC 6455 5.1: an unmasked client frame closes the connection with 1002, unanswered."""

from __future__ import annotations

import asyncio
import os
import struct

from calc_server.masking import MaskScanner
from calc_server.runner import RunningServer
from tests.rawsocket import SilentPeer


def client_frame(payload: bytes, *, masked: bool = True, opcode: int = 0x1) -> bytes:
    n = len(payload)
    bit = 0x80 if masked else 0
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, bit | n)
    elif n < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, bit | 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, bit | 127, n)
    if not masked:
        return header + payload
    key = os.urandom(4)
    return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def test_scanner_follows_frames_of_every_length_split_anywhere() -> None:
    stream = b"".join(client_frame(b"x" * n) for n in (0, 5, 125, 126, 300, 70_000))
    for step in (1, 3, 7, 1000, len(stream)):
        scanner = MaskScanner()
        chunks = [stream[i : i + step] for i in range(0, len(stream), step)]
        assert all(scanner.feed(chunk) for chunk in chunks)
        assert not scanner.feed(client_frame(b"late", masked=False))


async def test_unmasked_frame_is_closed_with_1002_and_not_answered(server: RunningServer) -> None:
    peer = await SilentPeer.open("127.0.0.1", server.port)
    try:
        await peer.drain_all(b'"type":"state"')  # welcome and state
        peer.writer.write(client_frame(b'{"type":"sync","request_id":"u1"}', masked=False))
        rest = await peer.drain_all(b"\x88\x02\x03\xea")  # close frame, code 1002
        assert b'"ack"' not in rest
    finally:
        peer.close()


async def test_masked_frames_are_served_as_before(server: RunningServer) -> None:
    peer = await SilentPeer.open("127.0.0.1", server.port)
    try:
        await peer.drain_all(b'"type":"state"')
        peer.writer.write(client_frame(b'{"type":"sync","request_id":"m1"}'))
        assert b'"request_id":"m1"' in await peer.drain_all(b'"request_id":"m1"')
    finally:
        peer.close()
        await asyncio.sleep(0)
