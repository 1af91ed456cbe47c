"""Every frame reaches a peer whole and in order, whichever way the hub wrote it.

A broadcast writes straight to the socket when the transport holds nothing unsent, and
through ``transport.write`` otherwise; replies always go through the transport. These tests
mix both under backpressure, on asyncio's loop and on uvloop (the server's), and read the byte
stream on the client frame by frame.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import random
import socket
from collections.abc import Callable
from dataclasses import replace

import pytest

from calc_server.frames import text_frame
from calc_server.hub import Hub, Peer
from calc_server.keys import HUB, SERVICE
from calc_server.loop import loop_factory
from calc_server.runner import RunningServer, start_server
from tests.conftest import TEST_SETTINGS

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop] | None] = {
    "asyncio": None,
    "uvloop": loop_factory(),
}
SMALL_BUFFER = 4096
"""Kernel buffer size on both ends: a few frames fill them, so the transport has to queue."""
STEPS = 600
SIZES = (20, 120, 900, 3000, 20000)
"""Payload sizes: small frames, and frames larger than the kernel buffer (partial writes)."""
TIMEOUT = 20.0


def _payload(k: int, size: int) -> bytes:
    head = b'{"k":%d,"pad":"' % k
    return head + b"x" * max(0, size - len(head) - 2) + b'"}'


class RawClient:
    """A WebSocket client on a bare non-blocking socket: reads exactly when the test says."""

    def __init__(self, sock: socket.socket, rest: bytes) -> None:
        self.sock = sock
        self.data = bytearray(rest)
        self.frames: list[tuple[int, bytes]] = []
        """Every complete frame read so far (``parse``)."""

    def parse(self) -> int:
        """Move the complete frames read so far to ``frames``; how many bytes are left over."""
        frames, left = parse_frames(self.data)
        self.frames += frames
        del self.data[: len(self.data) - left]
        return left

    @classmethod
    async def open(cls, server: RunningServer) -> RawClient:
        """Connect with a small receive buffer and finish the HTTP upgrade."""
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
        sock.setblocking(False)
        await loop.sock_connect(sock, (server.host, server.port))
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET /ws HTTP/1.1\r\nHost: {server.host}:{server.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        )
        await loop.sock_sendall(sock, request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = await loop.sock_recv(sock, 4096)
            assert chunk, "server closed during the handshake"
            head += chunk
        status, rest = head.split(b"\r\n\r\n", 1)
        assert status.startswith(b"HTTP/1.1 101"), status
        return cls(sock, rest)

    def read_some(self, most: int) -> None:
        """Take up to ``most`` bytes the kernel already has, without waiting."""
        with contextlib.suppress(BlockingIOError):
            self.data += self.sock.recv(most)

    async def read_until(self, done: Callable[[list[tuple[int, bytes]]], bool]) -> None:
        """Read until ``done(frames)`` holds for the frames parsed so far."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(TIMEOUT):
            self.parse()
            while not done(self.frames):
                chunk = await loop.sock_recv(self.sock, 65536)
                if not chunk:
                    return
                self.data += chunk
                self.parse()

    def send_frame(self, opcode: int, payload: bytes) -> None:
        """One masked client frame (payload under 126 bytes)."""
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.send(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def close(self) -> None:
        """Drop the connection."""
        self.sock.close()


def parse_frames(data: bytes | bytearray) -> tuple[list[tuple[int, bytes]], int]:
    """Every complete server frame in ``data`` as (opcode, payload), and the bytes left over.

    Strict: a frame that is masked, fragmented or uses reserved bits means the stream was
    corrupted (bytes of two frames mixed), and fails the test.
    """
    frames: list[tuple[int, bytes]] = []
    i = 0
    while len(data) - i >= 2:
        first, second = data[i], data[i + 1]
        assert first & 0x80, f"frame at byte {i} is not final: stream corrupted"
        assert not first & 0x70, f"reserved bits set at byte {i}: stream corrupted"
        assert not second & 0x80, f"server frame at byte {i} is masked: stream corrupted"
        n, head = second & 0x7F, 2
        if n == 126:
            if len(data) - i < 4:
                break
            n, head = int.from_bytes(data[i + 2 : i + 4], "big"), 4
        elif n == 127:
            if len(data) - i < 10:
                break
            n, head = int.from_bytes(data[i + 2 : i + 10], "big"), 10
        if len(data) - i < head + n:
            break
        frames.append((first & 0x0F, bytes(data[i + head : i + head + n])))
        i += head + n
    return frames, len(data) - i


def numbered(frames: list[tuple[int, bytes]]) -> list[bytes]:
    """The test's own payloads, in the order they arrived (welcome, state, presence left out)."""
    return [payload for opcode, payload in frames if opcode == 0x1 and payload[:5] == b'{"k":']


async def the_peer(server: RunningServer, client: RawClient) -> Peer:
    """The hub's peer for ``client``."""
    hub = server.app[HUB]
    host, port = client.sock.getsockname()[:2]
    async with asyncio.timeout(5):
        # the handler registers the peer just after the 101 goes out; no event marks it
        while not (found := [p for p in hub.peers if p.remote == f"{host}:{port}"]):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    return found[0]


async def interleave(hub: Hub, peer: Peer, client: RawClient) -> tuple[list[bytes], int, int]:
    """Broadcasts and replies in a seeded random mix, the client reading in small bites.

    Returns the payloads in the order written, and how many writes found the transport with
    bytes pending and with none (both must happen for the test to mean anything).
    """
    rng = random.Random(14)
    sent: list[bytes] = []
    pending = empty = 0
    for k in range(STEPS):
        payload = _payload(k, rng.choice(SIZES))
        if peer.transport.get_write_buffer_size():
            pending += 1
        else:
            empty += 1
        if rng.random() < 0.5:
            hub.broadcast(text_frame(payload))
        else:
            hub.send(peer, payload)
        sent.append(payload)
        if rng.random() < 0.3:
            client.read_some(rng.choice((100, 1000, 8000)))
            await asyncio.sleep(0)  # the loop flushes what the transport queued
    return sent, pending, empty


async def replies_and_broadcasts_in_order() -> None:
    server = await start_server(
        replace(TEST_SETTINGS, send_buffer_limit=1 << 30, behind_timeout=60.0)
    )
    client = await RawClient.open(server)
    try:
        hub = server.app[HUB]
        peer = await the_peer(server, client)
        sock = peer.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)
        sent, pending, empty = await interleave(hub, peer, client)
        assert pending > 0, "no write found bytes pending: the transport path went untested"
        assert empty > 0, "no write found the transport empty: the socket path went untested"
        assert hub.behind == 0
        assert peer.behind_since is None
        await client.read_until(lambda frames: len(numbered(frames)) >= len(sent))
        assert client.parse() == 0
        assert numbered(client.frames) == sent
    finally:
        client.close()
        await server.stop()


async def nothing_after_close() -> None:
    server = await start_server(TEST_SETTINGS)
    client = await RawClient.open(server)
    try:
        service = server.app[SERVICE]
        peer = await the_peer(server, client)
        client.send_frame(0x2, b"binary")  # refused: the server closes with 1003
        async with asyncio.timeout(5):
            while not peer.ws.closed:  # noqa: ASYNC110 - no event marks it
                await asyncio.sleep(0.01)
        for i in range(5):  # the server waits for our Close; its broadcasts go on meanwhile
            service.start(f"after-close-{i}")
            service.cancel(f"after-close-{i}", None)
        await client.read_until(lambda frames: any(op == 0x8 for op, _ in frames))
        await asyncio.sleep(0.1)  # anything written after the Close would have arrived by now
        client.read_some(1 << 20)
        assert client.parse() == 0
        opcodes = [op for op, _ in client.frames]
        assert opcodes[-1] == 0x8, opcodes
        assert int.from_bytes(client.frames[-1][1][:2], "big") == 1003
    finally:
        client.close()
        await server.stop()


@pytest.mark.parametrize("loop", LOOPS.keys())
def test_replies_and_broadcasts_arrive_whole_and_in_order_under_backpressure(loop: str) -> None:
    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        runner.run(replies_and_broadcasts_in_order())


@pytest.mark.parametrize("loop", LOOPS.keys())
def test_no_frame_follows_the_servers_close(loop: str) -> None:
    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        runner.run(nothing_after_close())
