"""The server's run history: each published state recorded as part of a run, in a store.

``RunHistory.observe`` sits on the service's publish path, after the fan-out. It only turns a
``State`` into the store's ``record_*`` calls, which return at once (a SQLite store writes on
its own thread), so no state change ever waits on the disk. It also remembers the newest run
that ended, which every ``welcome`` carries as ``last_run``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from calc_server.history import (
    HistoryReader,
    HistoryStore,
    HistoryUnavailable,
    MemoryHistory,
    OutputLine,
    RunOutcome,
    RunRecord,
    SqliteHistory,
)
from calc_server.history.book import RunBook
from protocol import Phase, State

OUTCOMES = {
    Phase.SUCCESS: RunOutcome.SUCCESS,
    Phase.CANCELED: RunOutcome.CANCELED,
    Phase.FAILED: RunOutcome.FAILED,
}
"""How each phase that ends a run is recorded."""


@dataclass(frozen=True, slots=True)
class JobDetails:
    """What a real job adds to its run: the command when it starts, how it exited at the end.

    The publisher passes them with the state they belong to (the start or the end); the
    built-in timer has none.
    """

    command: str | None = None
    exit_code: int | None = None
    last_message: str | None = None
    output_tail: tuple[OutputLine, ...] = ()


class HistoryView(Protocol):
    """What the connections and ``/metrics`` need of the run history, wherever it is kept:
    ``RunHistory`` on a single server, ``cluster.runs.SharedRuns`` in a cluster."""

    @property
    def store(self) -> HistoryReader:
        """Answers ``history`` requests."""
        ...

    @property
    def last_run(self) -> RunRecord | None:
        """The newest run that has ended, without its output tail (``welcome.last_run``)."""
        ...

    def counts(self) -> dict[str, int]:
        """Runs ended, by outcome name (for ``/metrics``)."""
        ...

    async def close(self) -> None:
        """Write what is pending and release the store."""
        ...


class RunHistory:
    """Records runs from the states the service publishes; build it with ``open``.

    ``store`` answers the history requests; ``last_run`` is the newest run that has ended
    (without its output tail), from the file at start-up and from ``observe`` afterwards.
    """

    def __init__(
        self,
        store: HistoryStore,
        *,
        last_run: RunRecord | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.last_run = last_run
        self._clock = clock
        # The runs in progress, as the store sees them: the same events at the same times
        # give the same records, so the ended one can be kept for ``last_run``.
        self._book = RunBook()

    @classmethod
    async def open(cls, path: Path | None, keep: int) -> RunHistory:
        """The history in the file at ``path`` (created if missing), or in memory for None.

        Raises ``HistoryFileRefused`` for a file that is not a calc history or is damaged.
        Runs a previous server left open are INTERRUPTED now, so the newest run is ended.
        """
        if path is None:
            return cls(MemoryHistory(keep=keep))
        # A directory that cannot be made is the store's passing fault to report and retry.
        with contextlib.suppress(OSError):
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        store = await SqliteHistory.open(path, keep=keep)
        try:
            await store.mark_interrupted()
            newest = (await store.page(1, tails=False)).runs
        except HistoryUnavailable:
            newest = []  # the writer said why, once; it closes those runs when it can
        last = newest[0] if newest else None
        return cls(store, last_run=last)

    def observe(self, state: State, job: JobDetails | None = None) -> None:
        """Record what ``state`` says about its run: a start, a new stage, or the end."""
        cid = state.calculation_id
        if cid is None:
            return
        at = self._clock()
        if state.state.running:
            if cid not in self._book.open:
                command = job.command if job else None
                by = state.started_by or "unknown"
                self.store.record_start(cid, by, at=at, command=command)
                self._book.start(cid, by, at, command)
            self.store.record_stage(cid, state.stage, at=at)
            self._book.stage(cid, state.stage, at)
            return
        outcome = OUTCOMES.get(state.state)
        if outcome is None or cid not in self._book.open:
            return
        job = job or JobDetails()
        self.store.record_end(
            cid,
            outcome,
            state.ended_by,
            at=at,
            exit_code=job.exit_code,
            last_message=job.last_message,
            output_tail=job.output_tail,
        )
        ended = self._book.end(
            cid,
            outcome,
            state.ended_by,
            at,
            exit_code=job.exit_code,
            last_message=job.last_message,
            output_tail=(),
        )
        if ended is not None:
            self.last_run = ended

    def counts(self) -> dict[str, int]:
        """Runs ended in this history, by outcome name (for ``/metrics``)."""
        return {o.value: n for o, n in self.store.counts_by_outcome().items()}

    async def close(self) -> None:
        """Write what is pending and release the store."""
        await self.store.close()
