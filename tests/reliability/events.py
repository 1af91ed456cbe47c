"""A Reconnector run in the background, its events queued with their arrival times."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import TypeVar, cast

from calc_client.reconnect import Event, Reconnector

E = TypeVar("E")


class EventLog:
    """Iterates ``reconnector.events()`` in a task; tests ``next`` through what happened."""

    def __init__(self, reconnector: Reconnector) -> None:
        self.reconnector = reconnector
        self.seen: list[tuple[float, Event]] = []
        self._queue: asyncio.Queue[tuple[float, Event]] = asyncio.Queue()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        events = cast(AsyncGenerator[Event, None], self.reconnector.events())
        async with aclosing(events) as stream:
            async for event in stream:
                entry = (loop.time(), event)
                self.seen.append(entry)
                self._queue.put_nowait(entry)

    async def next(
        self, kind: type[E], where: Callable[[E], bool] = lambda _: True, timeout: float = 30.0
    ) -> tuple[float, E]:
        """The next event of type ``kind`` matching ``where``, with its time; skips others.

        Only events after the last one returned count: the queue is the cursor. ``timeout``
        only bounds a failure.
        """
        async with asyncio.timeout(timeout):
            while True:
                at, event = await self._queue.get()
                if isinstance(event, kind) and where(event):
                    return at, event

    def skipped_since(self, since: float, kind: type) -> list[Event]:
        """Events of type ``kind`` seen at or after ``since``."""
        return [e for at, e in self.seen if at >= since and isinstance(e, kind)]

    async def close(self) -> None:
        """Stop iterating; the generator closes the link it holds."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
