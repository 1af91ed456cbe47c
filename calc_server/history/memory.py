"""History kept in memory only (``--history none``): lost on restart, same rules otherwise."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

import msgspec

from calc_server.history.recorder import Recorder
from calc_server.history.records import DEFAULT_KEEP, HistoryPage, RunRecord


class MemoryHistory(Recorder):
    """The newest ``keep`` runs in a dict in start order; always available."""

    def __init__(self, keep: int = DEFAULT_KEEP, clock: Callable[[], float] = time.time) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1")
        super().__init__(clock)
        self._keep = keep
        self._runs: OrderedDict[str, RunRecord] = OrderedDict()

    @property
    def available(self) -> bool:
        """Memory is always there."""
        return True

    def _write(self, record: RunRecord) -> None:
        # Assigning to an existing key keeps its place, so the order stays the start order.
        self._runs[record.calculation_id] = record
        while len(self._runs) > self._keep:
            self._runs.popitem(last=False)

    async def page(
        self, limit: int, before: str | None = None, *, tails: bool = True
    ) -> HistoryPage:
        """Up to ``limit`` runs newest first, older than run ``before`` when given; without
        ``tails``, without their output tails."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        newest_first = reversed(self._runs.values())
        if before is not None:
            if before not in self._runs:
                return HistoryPage([], False)
            for record in newest_first:
                if record.calculation_id == before:
                    break
        runs: list[RunRecord] = []
        for record in newest_first:
            if len(runs) == limit:
                return HistoryPage(runs, True)
            runs.append(record if tails else msgspec.structs.replace(record, output_tail=()))
        return HistoryPage(runs, False)

    async def get(self, calculation_id: str) -> RunRecord | None:
        """One run, or None if it is not kept."""
        return self._runs.get(calculation_id)

    async def mark_interrupted(self) -> list[RunRecord]:
        """Nothing survives a restart in memory, so nothing was left open."""
        return []

    async def close(self) -> None:
        """Nothing to release."""
