"""A TCP proxy for tests that can cut the line silently, the way a dead NAT or Wi-Fi does.

``partition()`` stops forwarding in both directions without closing anything: neither end
gets a FIN or a reset, bytes simply stop arriving (they wait in the proxy's sockets). New
connections are accepted but go nowhere. ``heal()`` lets everything flow again.
"""

from __future__ import annotations

import asyncio
import contextlib


class BlackholeProxy:
    """Forwards 127.0.0.1:``port`` to ``target``; can silently drop all traffic and heal."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.connections = 0
        """How many client connections the proxy has accepted."""
        self.port = 0

    async def start(self) -> BlackholeProxy:
        """Listen on a free loopback port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        """The WebSocket URL through the proxy."""
        return f"ws://127.0.0.1:{self.port}/ws"

    def partition(self) -> None:
        """Stop forwarding in both directions; close nothing."""
        self._flowing.clear()

    def heal(self) -> None:
        """Forward again."""
        self._flowing.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        upstream: asyncio.StreamWriter | None = None
        try:
            await self._flowing.wait()  # a partitioned line reaches nothing
            up_reader, upstream = await asyncio.open_connection(*self.target)
            self._writers.add(upstream)
            await asyncio.gather(self._pump(reader, upstream), self._pump(up_reader, writer))
        except OSError:
            pass
        finally:
            for w in (writer, upstream):
                if w is not None:
                    w.close()
                    self._writers.discard(w)
            self._tasks.discard(task)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await self._flowing.wait()
                data = await reader.read(65536)
                await self._flowing.wait()  # data read just before a partition is held too
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                writer.close()

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
