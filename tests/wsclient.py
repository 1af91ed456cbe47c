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

FAILURE_TIMEOUT = 30.0
"""Seconds after which a wait fails: only a bound on a failure, never a figure a test needs."""


class RawClient:
    """One real aiohttp WebSocket connection with a background reader.

    ``messages`` holds everything received, in order. ``expect`` waits for a message that
    arrives after a point in that list: by default the moment it is called, or a mark taken
    earlier (``mark()``; ``send`` returns the mark of the moment before its frame went out).
    So a wait is never satisfied by history: an old presence or state cannot stand in for
    the one the test waits for.
    """

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse):
        self.session = session
        self.ws = ws
        self.messages: list[ServerMessage] = []
        self.received_at: list[float] = []
        """Loop time at which each entry of ``messages`` arrived."""
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
        await client.expect(Welcome, since=0)
        await client.expect(State, since=0)
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

    def mark(self) -> int:
        """The position just after everything received so far, for ``since``."""
        return len(self.messages)

    async def send(self, data: bytes | str | msgspec.Struct) -> int:
        """Send a text frame (a message struct, or raw text/bytes as they are).

        Returns the mark taken just before the frame went out: every answer to it comes later.
        """
        mark = self.mark()
        if isinstance(data, msgspec.Struct):
            data = msgspec.json.encode(data)
        if isinstance(data, bytes):
            await self.ws.send_frame(data, WSMsgType.TEXT)
        else:
            await self.ws.send_str(data)
        return mark

    async def expect(
        self,
        kind: type[M],
        where: Callable[[M], bool] = lambda _: True,
        *,
        since: int | None = None,
        timeout: float = FAILURE_TIMEOUT,
    ) -> M:
        """The first message of type ``kind`` matching ``where`` that arrived after ``since``.

        ``since`` is a mark (``mark()``, or what ``send`` returned); without one, only
        messages arriving after this call count. ``timeout`` only bounds a failure.
        """
        position = self.mark() if since is None else since
        async with asyncio.timeout(timeout), self._arrived:
            while True:
                while position < len(self.messages):
                    msg = self.messages[position]
                    position += 1
                    if isinstance(msg, kind) and where(msg):
                        return msg
                if self.closed.is_set():
                    raise ConnectionError(f"closed (code {self.ws.close_code}) before {kind}")
                await self._arrived.wait()

    async def ack(
        self, request_id: str, *, since: int | None = None, timeout: float = FAILURE_TIMEOUT
    ) -> Ack:
        """Wait for the ack of ``request_id`` arriving after ``since`` (default: now)."""
        return await self.expect(
            Ack, lambda a: a.request_id == request_id, since=since, timeout=timeout
        )

    def states(self, since: int = 0) -> list[State]:
        """Every state message received after the mark ``since`` (default: all of them)."""
        return [m for m in self.messages[since:] if isinstance(m, State)]

    def arrival(self, message: ServerMessage) -> float:
        """The loop time at which ``message`` (an object from ``messages``) arrived."""
        return self.received_at[next(i for i, m in enumerate(self.messages) if m is message)]

    async def wait_closed(self, timeout: float = FAILURE_TIMEOUT) -> int | None:
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
