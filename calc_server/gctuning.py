"""Garbage-collector tuning for many long-lived connections: ``gc.freeze`` after connect bursts.

With thousands of peers a generation-2 collection walks every connection's objects and can
stall a broadcast for tens of milliseconds; frozen objects are skipped. Only what is alive is
frozen (a collection first), and when most of the frozen peers have gone, the heap is unfrozen
and collected: their objects are garbage inside the frozen set, which each later freeze would
otherwise keep for good (memory grew with every wave of connection churn).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable

FREEZE_AFTER = 1.0
"""Seconds of quiet after connects before long-lived objects are moved out of the GC's way."""


class GcFreezer:
    """Freezes the heap a second after connects, sized by how many peers ``count`` reports."""

    def __init__(self, count: Callable[[], int]) -> None:
        self._count = count
        self._timer: asyncio.TimerHandle | None = None
        self._frozen_peers = 0

    def connected(self) -> None:
        """A peer connected: freeze (or refreeze) once the burst has settled."""
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FREEZE_AFTER, self._settle)

    def departed(self) -> None:
        """A peer left: once most frozen peers are gone, unfreeze even if nobody connects again."""
        if self._timer is None and self._count() < self._frozen_peers // 2:
            self._timer = asyncio.get_running_loop().call_later(FREEZE_AFTER, self._settle)

    def _settle(self) -> None:
        self._timer = None
        peers = self._count()
        if peers < self._frozen_peers // 2:
            gc.unfreeze()
            gc.collect()  # the departed peers' garbage, frozen until now
            self._frozen_peers = 0
        if peers > self._frozen_peers * 1.1:
            gc.collect()  # freeze only what is alive
            gc.freeze()
            self._frozen_peers = peers

    def stop(self) -> None:
        """Cancel a pending freeze."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
