"""Presence pacing: connects and leaves close together share one ``presence`` broadcast."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

PRESENCE_DELAY = 0.05
"""Seconds a presence broadcast waits, so a burst of connects sends one message."""

PRESENCE_DELAY_PER_PEER = 0.0001
"""Extra wait per connected peer: a presence costs one send per peer, so during a connect
burst at 10,000 peers they go out about once a second instead of twenty times."""


class PresencePacer:
    """Calls ``broadcast`` once, a short while after the first of a run of changes."""

    def __init__(self, broadcast: Callable[[], None], delay: float = PRESENCE_DELAY) -> None:
        self._broadcast = broadcast
        self._delay = delay
        self._timer: asyncio.TimerHandle | None = None

    def changed(self, peers: int) -> None:
        """A peer came or went (``peers`` are connected now); schedule one broadcast."""
        if self._timer is None:
            delay = self._delay + PRESENCE_DELAY_PER_PEER * peers
            self._timer = asyncio.get_running_loop().call_later(delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._broadcast()

    def stop(self) -> None:
        """Drop a pending broadcast; no more will be scheduled by this pacer's owner."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
