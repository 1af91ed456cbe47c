"""Connection churn does not grow the server's memory: departed peers are never kept frozen.

After a burst of connects the hub freezes long-lived objects out of the GC's way. Once most
of those peers have left, their objects are garbage inside the frozen set: the hub must
unfreeze and collect them, or each burst's freeze keeps the last one's garbage for good
(8 waves of 3,000 connections took the server from 41 to 300 MiB).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable

from calc_server.hub import Peer
from calc_server.keys import HUB
from tests.conftest import ServerFactory

CONNECTIONS = 200
WAVES = 2


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.05)


async def open_wave(port: int) -> list[asyncio.StreamWriter]:
    request = (
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()

    async def one() -> asyncio.StreamWriter:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        await reader.readuntil(b"\r\n\r\n")
        return writer

    return list(await asyncio.gather(*(one() for _ in range(CONNECTIONS))))


def live_peers() -> int:
    return sum(1 for obj in gc.get_objects() if isinstance(obj, Peer))


async def test_departed_peers_are_unfrozen_and_collected(server_factory: ServerFactory) -> None:
    server = await server_factory()
    hub = server.app[HUB]
    try:
        for _ in range(WAVES):
            frozen_before = gc.get_freeze_count()
            writers = await open_wave(server.port)
            await until(lambda: len(hub) == CONNECTIONS, 30, "all connected")
            froze = lambda before=frozen_before: gc.get_freeze_count() > before  # noqa: E731
            await until(froze, 30, "the hub froze")
            for writer in writers:
                writer.close()
            await until(lambda: len(hub) == 0, 30, "all gone")
            # the hub lets go within a second of quiet; generous for a busy machine
            await until(lambda: gc.get_freeze_count() == 0, 15, "unfrozen")
            await until(lambda: live_peers() == 0, 15, "the departed peers collected")
    finally:
        gc.unfreeze()
