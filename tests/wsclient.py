"""A raw WebSocket test client: sends any bytes, records every decoded message."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import aiohttp
import msgspec
from aiohttp import WSMsgType

from protocol import Ack, ServerMessage, State, Welcome, server_decoder

M = TypeVar("M")


class RawClient:
    """One real aiohttp WebSocket connection with a background reader.

    ``messages`` holds everything received, in order; ``expect`` waits (with a timeout) for
    the next message of a type that matches a predicate.
    """

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse):
        self.session = session
        self.ws = ws
        self.messages: list[ServerMessage] = []
        self.received_at: list[float] = []
        self._taken: set[int] = set()
        self._arrived = asyncio.Condition()
        self.closed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, **kwargs: Any) -> RawClient:
        """Connect to ``url`` (``kwargs`` go to ``ws_connect``)."""
        session = aiohttp.ClientSession()
        try:
            ws = await session.ws_connect(url, **kwargs)
        except BaseException:
            await session.close()
            raise
        return cls(session, ws)

    @classmethod
    async def open_ready(cls, url: str, **kwargs: Any) -> RawClient:
        """Connect and wait for the ``welcome`` and the first ``state``."""
        client = await cls.open(url, **kwargs)
        await client.expect(Welcome)
        await client.expect(State)
        return client

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            async for msg in self.ws:
                if msg.type is WSMsgType.TEXT:
                    decoded = server_decoder.decode(msg.data)
                    async with self._arrived:
                        self.messages.append(decoded)
                        self.received_at.append(loop.time())
                        self._arrived.notify_all()
        finally:
            self.closed.set()
            async with self._arrived:
                self._arrived.notify_all()

    async def send(self, data: bytes | str | msgspec.Struct) -> None:
        """Send a text frame: a message struct, or raw text/bytes as they are."""
        if isinstance(data, msgspec.Struct):
            data = msgspec.json.encode(data)
        if isinstance(data, bytes):
            await self.ws.send_frame(data, WSMsgType.TEXT)
        else:
            await self.ws.send_str(data)

    async def expect(
        self, kind: type[M], where: Callable[[M], bool] = lambda _: True, timeout: float = 5.0
    ) -> M:
        """The first message of type ``kind`` matching ``where`` not returned before.

        Earlier messages that do not match stay available to later calls, so the order in
        which a test expects messages need not be the order they arrived in.
        """
        async with asyncio.timeout(timeout), self._arrived:
            while True:
                for i, msg in enumerate(self.messages):
                    if i not in self._taken and isinstance(msg, kind) and where(msg):
                        self._taken.add(i)
                        return msg
                if self.closed.is_set():
                    raise ConnectionError(f"closed (code {self.ws.close_code}) before {kind}")
                await self._arrived.wait()

    async def ack(self, request_id: str, timeout: float = 5.0) -> Ack:
        """Wait for the ack of ``request_id``."""
        return await self.expect(Ack, lambda a: a.request_id == request_id, timeout)

    def states(self) -> list[State]:
        """Every state message received so far."""
        return [m for m in self.messages if isinstance(m, State)]

    async def wait_closed(self, timeout: float = 5.0) -> int | None:
        """Wait until the server closes the connection; return the close code."""
        async with asyncio.timeout(timeout):
            await self.closed.wait()
        return self.ws.close_code

    async def close(self) -> None:
        """Close the connection and the session."""
        await self.ws.close()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
        await self.session.close()
