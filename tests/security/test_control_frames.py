"""Pings and pongs count against a client's message budget; a flooder that stops reading is
dropped within the documented bound; a peer going away never causes a traceback or 1011."""

from __future__ import annotations

import asyncio
import logging
import os
import struct

import pytest

from calc_server.keys import HUB
from tests.conftest import ServerFactory
from tests.rawsocket import SilentPeer

PING = 0x9
CLOSE_1008 = b"\x88" + bytes([2 + len(b"rate limit")]) + struct.pack("!H", 1008)


def control_frame(opcode: int, payload: bytes = b"ping") -> bytes:
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + key + masked


async def wait_until(condition: object, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout}s")
        await asyncio.sleep(0.02)


async def test_a_ping_flood_is_rate_limited_like_messages(server_factory: ServerFactory) -> None:
    server = await server_factory()
    peer = await SilentPeer.open("127.0.0.1", server.port)
    try:
        await peer.drain_all(b'"type":"state"')
        peer.writer.write(control_frame(PING) * 200)
        received = await peer.drain_all(CLOSE_1008, timeout=10)
        pongs = received.count(b"\x8a\x04ping")
        assert pongs <= 30  # the burst (20) and what the rate refilled meanwhile, not 200
    finally:
        peer.close()


async def test_a_flooder_that_stops_reading_is_dropped_without_a_traceback(
    server_factory: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="calc_server")
    # the documented bound for a peer that does not drain is behind_timeout (10 s by default)
    server = await server_factory(behind_timeout=0.5, send_buffer_limit=2048, heartbeat=60.0)
    hub = server.app[HUB]
    peer = await SilentPeer.open("127.0.0.1", server.port)  # reads nothing from here on
    try:
        await wait_until(lambda: len(hub) == 1, 5)
        flood = control_frame(PING, b"p" * 100) * 2000
        peer.writer.write(flood)
        await wait_until(lambda: len(hub) == 0, 10)  # was: still counted 50 s later
    finally:
        peer.close()
    await asyncio.sleep(0.2)  # let the server see the reset
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "code 1011" not in caplog.text


async def test_pings_within_the_budget_are_answered(server_factory: ServerFactory) -> None:
    server = await server_factory()
    peer = await SilentPeer.open("127.0.0.1", server.port)
    try:
        await peer.drain_all(b'"type":"state"')
        peer.writer.write(control_frame(PING, b"hi"))
        assert b"\x8a\x02hi" in await peer.drain_all(b"\x8a\x02hi")
    finally:
        peer.close()
