"""Waiting on what the cluster primitives report, with generous bounds and no sleeps."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

from calc_server.cluster.record import StateRecord

BOUND = 20.0
"""Seconds a test waits for something that must happen: generous, for a busy machine."""


class LinkEvents:
    """Collects a subscriber's ``on_link`` calls; ``wait_for`` the next one with a value."""

    def __init__(self) -> None:
        self.history: list[bool] = []
        self._changed = asyncio.Event()

    def changed(self, up: bool) -> None:
        """The ``on_link`` callback."""
        self.history.append(up)
        self._changed.set()

    async def wait_for(self, up: bool) -> None:
        """Until the latest link report is ``up``."""
        async with asyncio.timeout(BOUND):
            while not self.history or self.history[-1] is not up:
                self._changed.clear()
                await self._changed.wait()


class Deliveries:
    """Collects a subscriber's ``on_change`` records; ``wait_until`` one matches."""

    def __init__(self) -> None:
        self.records: list[StateRecord] = []
        self._arrived = asyncio.Event()

    def changed(self, record: StateRecord) -> None:
        """The ``on_change`` callback."""
        self.records.append(record)
        self._arrived.set()

    async def wait_until(self, done: Callable[[list[StateRecord]], bool]) -> None:
        """Until ``done(records)`` holds."""
        async with asyncio.timeout(BOUND):
            while not done(self.records):
                self._arrived.clear()
                await self._arrived.wait()


async def poll(check: Callable[[], bool | Awaitable[bool]], *, every: float = 0.02) -> None:
    """Until ``check()`` is true, for at most ``BOUND`` seconds (for state only Redis knows, or
    a process, a log line); ``check`` may be a coroutine function or a plain one."""
    deadline = time.monotonic() + BOUND
    while not await _holds(check()):
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached in time")
        await asyncio.sleep(every)


async def _holds(result: bool | Awaitable[bool]) -> bool:
    return await result if inspect.isawaitable(result) else result
