"""Many light WebSocket clients in one process, each recording what it received.

One aiohttp session carries them all; each client has one reader task that decodes every frame
and keeps the states as ``(seq, state)`` pairs with their arrival time, so a thousand of them
stay cheap enough for a test.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import resource
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
import msgspec
from aiohttp import WSMsgType

from protocol import Phase, Presence, ServerMessage, State, Welcome, server_decoder

Condition = Callable[["Watcher"], bool]


@dataclass(eq=False)
class Watcher:
    """One real WebSocket client that only listens (it can also send raw frames)."""

    ws: aiohttp.ClientWebSocketResponse
    welcome: Welcome | None = None
    states: list[State] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)
    """Loop time at which each entry of ``states`` arrived."""
    others: list[ServerMessage] = field(default_factory=list)
    """Every message that is neither welcome nor state nor presence."""
    undecodable: int = 0
    presence: int | None = None
    """The client count of the latest presence message."""
    first: list[str] = field(default_factory=list)
    """The types of the first two messages, to check that welcome comes before state."""
    _waiters: list[tuple[Condition, asyncio.Future[None]]] = field(default_factory=list)
    _reader: asyncio.Task[None] | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def open(cls, session: aiohttp.ClientSession, url: str) -> Watcher:
        """Connect and start reading; the welcome and first state arrive in the background."""
        ws = await session.ws_connect(url, autoping=True, compress=0, max_msg_size=1 << 20)
        watcher = cls(ws)
        watcher._reader = asyncio.create_task(watcher._read())
        return watcher

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            async for msg in self.ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                try:
                    message = server_decoder.decode(msg.data)
                except msgspec.DecodeError:
                    self.undecodable += 1
                    continue
                if len(self.first) < 2:
                    self.first.append(type(message).__name__)
                match message:
                    case State():
                        self.states.append(message)
                        self.received_at.append(loop.time())
                    case Welcome():
                        self.welcome = message
                    case Presence(clients=clients):
                        self.presence = clients
                    case _:
                        self.others.append(message)
                self._wake()
        finally:
            self.closed.set()
            self._wake(closing=True)

    def _wake(self, closing: bool = False) -> None:
        kept = []
        for condition, future in self._waiters:
            if future.done():
                continue
            if condition(self):
                future.set_result(None)
            elif closing:
                future.set_exception(ConnectionError(f"closed (code {self.ws.close_code})"))
            else:
                kept.append((condition, future))
        self._waiters = kept

    async def until(self, condition: Condition, timeout: float = 30.0) -> None:
        """Wait until ``condition(self)`` holds; fail after ``timeout`` or if the link closes."""
        if condition(self):
            return
        if self.closed.is_set():
            raise ConnectionError(f"closed (code {self.ws.close_code})")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((condition, future))
        async with asyncio.timeout(timeout):
            await future

    async def until_seq(self, seq: int, timeout: float = 30.0) -> None:
        """Wait for the state with ``seq`` (or a later one)."""
        await self.until(lambda w: bool(w.states) and w.states[-1].seq >= seq, timeout)

    def pairs(self) -> list[tuple[int, Phase]]:
        """Every state received, as ``(seq, state)``."""
        return [(s.seq, s.state) for s in self.states]

    async def close(self) -> None:
        """Close the connection and wait for the reader to finish."""
        await self.ws.close()
        if self._reader is not None:
            async with asyncio.timeout(30):
                await asyncio.gather(self._reader, return_exceptions=True)


def new_session() -> aiohttp.ClientSession:
    """One session for many clients: no per-host connection cap."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True))


async def open_many(
    session: aiohttp.ClientSession, url: str, count: int, *, at_once: int = 100
) -> list[Watcher]:
    """``count`` watchers, each with its first state received; at most ``at_once`` handshaking."""
    gate = asyncio.Semaphore(at_once)

    async def one() -> Watcher:
        async with gate:
            watcher = await Watcher.open(session, url)
            await watcher.until(lambda w: bool(w.states), timeout=30)
            return watcher

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def close_all(watchers: list[Watcher]) -> None:
    """Close every watcher."""
    await asyncio.gather(*(w.close() for w in watchers), return_exceptions=True)


def open_fds(pid: int | str = "self") -> int:
    """How many file descriptors the process has open (Linux /proc)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def raise_fd_limit(wanted: int) -> None:
    """Raise the soft RLIMIT_NOFILE to ``wanted`` (at most the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def contiguous(pairs: list[tuple[int, Phase]]) -> bool:
    """True when the seqs go up by exactly one each time: no gap, duplicate or reordering."""
    return all(b[0] == a[0] + 1 for a, b in itertools.pairwise(pairs))
