"""History in one SQLite file (stdlib ``sqlite3``, WAL): survives restarts.

Writes go through one ``Writer`` thread and never make the caller wait: the records of one
loop callback are handed to it once the callback is over, so the writer does its work while
the loop waits for I/O rather than in the middle of a fan-out. Reads run on one reader thread
with their own connection, after the writes issued before them have landed.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from calc_server.history.recorder import Recorder
from calc_server.history.records import DEFAULT_KEEP, HistoryPage, RunOutcome, RunRecord
from calc_server.history.schema import SELECT_RUNS, SELECT_RUNS_WITHOUT_TAILS, row_to_record
from calc_server.history.store import HistoryUnavailable
from calc_server.history.writer import DEFAULT_BACKOFF, STOP, Backoff, Write, Writer

T = TypeVar("T")


def default_history_path(state_dir: Path, port: int) -> Path:
    """``history-PORT.sqlite3`` in ``state_dir`` (the directory that holds the token file)."""
    return state_dir / f"history-{port}.sqlite3"


class SqliteHistory(Recorder):
    """Run history in a SQLite file; build it with ``await SqliteHistory.open(path)``.

    While the file cannot be written the store stays usable: ``available`` is False, reads
    raise ``HistoryUnavailable``, and up to ``max_pending`` runs wait in memory (beyond that
    the oldest finished ones are dropped, and counted in the log when writing works again).
    """

    def __init__(self, writer: Writer, read_wait: float, clock: Callable[[], float]) -> None:
        super().__init__(clock)
        self._writer = writer
        self._read_wait = read_wait
        self._seq = 0
        self._handoff: list[Write] = []
        """Records made during the current loop callback, not yet queued for the writer."""
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="calc-history-reader")
        self._reader_conn: sqlite3.Connection | None = None
        self._closed = False

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        keep: int = DEFAULT_KEEP,
        busy_timeout: float = 5.0,
        backoff: Backoff = DEFAULT_BACKOFF,
        read_wait: float = 2.0,
        max_pending: int = 1_000,
        clock: Callable[[], float] = time.time,
    ) -> SqliteHistory:
        """Open (creating or migrating) the history at ``path``.

        Raises ``HistoryFileRefused`` for a file that is not a calc history or is damaged;
        such a file is never written. Runs left open by a previous server are closed as
        INTERRUPTED here (``mark_interrupted`` returns them).
        """
        if keep < 1:
            raise ValueError("keep must be at least 1")
        writer = Writer(Path(path), keep, busy_timeout, backoff, max_pending)
        writer.start()
        await asyncio.wrap_future(writer.opened)
        return cls(writer, read_wait, clock)

    @property
    def path(self) -> Path:
        """The history file."""
        return self._writer.path

    @property
    def available(self) -> bool:
        """False while the file cannot be used; the writer keeps retrying."""
        return self._writer.available

    def _stored_counts(self) -> Counter[RunOutcome]:
        # Read from the file on the writer's first connection (which may come late).
        return self._writer.stored_counts or Counter()

    def _write(self, record: RunRecord) -> None:
        if self._closed:
            return
        self._seq += 1
        self._handoff.append(Write(self._seq, record))
        if len(self._handoff) > 1:
            return  # already due
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._hand_off()
        else:
            loop.call_soon(self._hand_off)

    def _hand_off(self) -> None:
        """Queue the records for the writer thread (which wakes up for them).

        Called once the loop has finished what it was doing when they were recorded (the
        fan-out of a state change, its log line): the writer then takes the GIL while the loop
        waits for I/O, instead of taking it from the loop in the middle of its work.
        """
        for write in self._handoff:
            self._writer.queue.put(write)
        self._handoff.clear()

    async def page(
        self, limit: int, before: str | None = None, *, tails: bool = True
    ) -> HistoryPage:
        """Up to ``limit`` runs newest first, older than run ``before`` when given; without
        ``tails``, without their output tails (the query then never reads or decodes them).

        Both queries walk the primary key backwards from the newest run or from ``before``'s
        (found through the unique index on ``calculation_id``): no sort, no scan.
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        select = SELECT_RUNS if tails else SELECT_RUNS_WITHOUT_TAILS

        def query(conn: sqlite3.Connection) -> HistoryPage:
            if before is None:
                rows = conn.execute(f"{select} ORDER BY seq DESC LIMIT ?", (limit + 1,)).fetchall()
            else:
                rows = conn.execute(
                    f"{select} WHERE seq < (SELECT seq FROM runs WHERE calculation_id = ?)"
                    " ORDER BY seq DESC LIMIT ?",
                    (before, limit + 1),
                ).fetchall()
            return HistoryPage([row_to_record(r) for r in rows[:limit]], len(rows) > limit)

        return await self._read(query)

    async def get(self, calculation_id: str) -> RunRecord | None:
        """One run, or None if it is not kept."""

        def query(conn: sqlite3.Connection) -> RunRecord | None:
            row = conn.execute(
                f"{SELECT_RUNS} WHERE calculation_id = ?", (calculation_id,)
            ).fetchone()
            return None if row is None else row_to_record(row)

        return await self._read(query)

    async def mark_interrupted(self) -> list[RunRecord]:
        """The runs a previous server left open, closed as INTERRUPTED when the file opened.

        Raises ``HistoryUnavailable`` if the file could not be used yet; the writer then
        closes them as soon as it can (and logs them).
        """
        if self._writer.interrupted is None:
            raise HistoryUnavailable(f"history file {self.path} cannot be used now")
        return list(self._writer.interrupted)

    async def _read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed or not self._writer.available:
            raise HistoryUnavailable(f"history file {self.path} cannot be used now")
        self._hand_off()  # a read waits for the writes before it
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, self._read_now, self._seq, query)

    def _read_now(self, seq: int, query: Callable[[sqlite3.Connection], T]) -> T:
        """On the reader thread: wait for write ``seq`` to land, then run ``query``."""
        if not self._writer.wait_flushed(seq, self._read_wait):
            raise HistoryUnavailable(f"history file {self.path} cannot be used now")
        try:
            if self._reader_conn is None:
                uri = f"{self.path.absolute().as_uri()}?mode=ro"
                self._reader_conn = sqlite3.connect(
                    uri,
                    uri=True,
                    timeout=self._writer.busy_timeout,
                    isolation_level=None,
                    check_same_thread=False,
                )
            self._reader_conn.execute("BEGIN")
            try:
                return query(self._reader_conn)
            finally:
                self._reader_conn.execute("COMMIT")
        except sqlite3.Error as error:
            self._close_reader()
            raise HistoryUnavailable(f"history file {self.path} cannot be read: {error}") from error

    def _close_reader(self) -> None:
        if self._reader_conn is not None:
            self._reader_conn.close()
            self._reader_conn = None

    async def close(self, timeout: float = 10.0) -> None:
        """Write what is pending (one attempt), then release the file."""
        if self._closed:
            return
        self._closed = True
        self._hand_off()
        # The reader goes first so the writer's connection is the last one: closing it folds
        # the WAL back into the file and removes it.
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._reader, self._close_reader)
        self._reader.shutdown(wait=False)
        self._writer.queue.put(STOP)
        await asyncio.to_thread(self._writer.join, timeout)
        # Only now: closing any descriptor of the file drops this process's POSIX locks on it,
        # SQLite's included, so the lock descriptor outlives every connection.
        if self._writer.lock_fd is not None and not self._writer.is_alive():
            os.close(self._writer.lock_fd)
            self._writer.lock_fd = None
