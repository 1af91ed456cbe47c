"""How late the event loop ran its callbacks while a test waited: the allowance of timing checks.

A promise such as "each stage lasts 0.2 s" is checked by a client in the same process as the
server. On a busy machine every callback (the server's timer, the client's reader) runs late by
as long as the loop was stalled or starved. ``LoopLag`` measures that during the test, so a
bound is the promise plus what this machine really added, not a guess that holds only on a
quiet machine: on a quiet one the allowance stays a few milliseconds and the check stays tight.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

TICK = 0.005
"""Seconds between samples; a callback can be late by one tick more than any sample saw."""

MARGIN = 0.01
"""Seconds for the work around one check (a send, a decode), on top of the lateness."""


class LoopLag:
    """``async with LoopLag() as lag``: samples the running loop's lateness until the block ends."""

    def __init__(self) -> None:
        self.worst = 0.0
        """The longest a timer of this loop fired late, in seconds."""
        self._sampler: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LoopLag:
        self._sampler = asyncio.create_task(self._sample())
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler

    async def _sample(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + TICK
            await asyncio.sleep(TICK)
            self.worst = max(self.worst, loop.time() - due)

    def allowance(self, stalls: int = 1) -> float:
        """Seconds a measured time may exceed its promise: ``stalls`` late callbacks in a row.

        A transition seen by a client is one late timer (the server's) then one late read (the
        client's): two stalls.
        """
        return stalls * (self.worst + TICK) + MARGIN
