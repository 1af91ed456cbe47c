"""Automatic reconnection as an endless stream of events.

Capped exponential backoff with full jitter; the backoff resets only after a connection has
delivered a snapshot, so a server that accepts and then drops at once is not hammered.
Refusals (an HTTP 4xx such as 401, 403 or 404, see ``calc_client.refusals``; close 1008) are
not retried in a loop: the stream waits for ``retry_now``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from ssl import SSLContext

from aiohttp import WSCloseCode

from calc_client.link import CLIENT_HEARTBEAT, ConnectFailed, Link, connect
from protocol import ServerMessage, State, Welcome


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays for reconnect attempts: uniform in [0, min(cap, base * 2**attempt)]."""

    base: float = 0.5
    cap: float = 10.0
    rng: Callable[[float, float], float] = field(default=random.uniform, repr=False)

    def delay(self, attempt: int) -> float:
        """The wait before retry number ``attempt`` (0 for the first retry)."""
        return self.rng(0.0, min(self.cap, self.base * 2.0 ** min(attempt, 32)))


@dataclass(frozen=True, slots=True)
class Connecting:
    """A connection attempt begins; ``attempt`` counts from 1 since the last healthy link."""

    attempt: int


@dataclass(frozen=True, slots=True)
class Connected:
    """A connection is open and the server said ``welcome``; commands can be sent."""

    welcome: Welcome


@dataclass(frozen=True, slots=True)
class Received:
    """A message from the server."""

    message: ServerMessage


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The connection failed or was lost.

    ``retry_in`` is the delay before the next automatic attempt, or None when the refusal is
    final until ``retry_now`` is called (``fatal``).
    """

    reason: str
    attempt: int
    retry_in: float | None

    @property
    def fatal(self) -> bool:
        """True when no automatic retry will happen."""
        return self.retry_in is None


Event = Connecting | Connected | Received | Disconnected
"""Everything a ``Reconnector`` reports."""


class Reconnector:
    """Keeps one connection to ``url`` open for as long as ``events`` is iterated.

    Commands go out through the same object (``start``, ``cancel``) on the current link, and
    are never queued: without a link they are not sent.
    """

    def __init__(
        self,
        url: str,
        *,
        name: str | None = None,
        backoff: Backoff | None = None,
        connect_timeout: float = 5.0,
        heartbeat: float = CLIENT_HEARTBEAT,
        token: str | None = None,
        ssl: SSLContext | bool = True,
    ) -> None:
        self.url = url
        self.name = name
        self.backoff = backoff or Backoff()
        self.connect_timeout = connect_timeout
        self.heartbeat = heartbeat
        self.token = token
        self.ssl = ssl
        self.link: Link | None = None
        """The open link while connected (for tests that cut it); send through this object."""
        self._wake = asyncio.Event()

    def retry_now(self) -> None:
        """Skip the current wait (or a final refusal) and try again at once."""
        self._wake.set()

    async def start(self) -> str | None:
        """Send ``start``; the request id, or None when there is no connection to send it on."""
        return await self._send(lambda link: link.start())

    async def cancel(self, calculation_id: str | None = None) -> str | None:
        """Send ``cancel`` for ``calculation_id``; the request id, or None when not connected."""
        return await self._send(lambda link: link.cancel(calculation_id))

    async def history(
        self, limit: int = 20, before: str | None = None, calculation_id: str | None = None
    ) -> str | None:
        """Send ``history``; the request id, or None when not connected."""
        return await self._send(lambda link: link.history(limit, before, calculation_id))

    async def who(self) -> str | None:
        """Send ``who``; the request id, or None when not connected."""
        return await self._send(lambda link: link.who())

    async def _send(self, send: Callable[[Link], Awaitable[str]]) -> str | None:
        link = self.link
        if link is None or link.closed:
            return None
        try:
            return await send(link)
        except ConnectionError:
            return None

    async def _connect(self) -> Link:
        return await connect(
            self.url,
            name=self.name,
            timeout=self.connect_timeout,
            heartbeat=self.heartbeat,
            token=self.token,
            ssl=self.ssl,
        )

    async def _wait(self, delay: float | None) -> None:
        # a retry_now() that came during the last attempt still counts: it is not cleared here
        try:
            async with asyncio.timeout(delay):
                await self._wake.wait()
        except TimeoutError:
            pass
        self._wake.clear()

    async def events(self) -> AsyncGenerator[Event, None]:
        """Yield connection events and server messages, forever."""
        failures = 0
        while True:
            yield Connecting(failures + 1)
            try:
                link = await self._connect()
            except ConnectFailed as exc:
                failures += 1
                retry_in = self.backoff.delay(failures - 1) if exc.retryable else None
                yield Disconnected(exc.reason, failures, retry_in)
                await self._wait(retry_in)
                if retry_in is None:
                    failures = 0
                continue
            self.link = link
            healthy = False
            try:
                yield Connected(link.welcome)
                async for message in link:
                    if isinstance(message, State):
                        healthy = True
                    yield Received(message)
            finally:
                self.link = None
                await link.aclose()
            failures = 0 if healthy else failures + 1
            refused = link.close_code == WSCloseCode.POLICY_VIOLATION
            retry_in = None if refused else self.backoff.delay(max(failures - 1, 0))
            yield Disconnected(link.close_reason, failures, retry_in)
            await self._wait(retry_in)
