"""The one thread that writes the history file, so the event loop never waits on the disk.

Callers hand it whole records through a queue and return at once. It coalesces them by run
(only a run's newest record matters), writes them in one transaction, and on any fault (disk
full, read-only file, locked database) keeps them in memory, closes its connection, reports
itself unavailable, logs once per outage, and tries again after a growing delay.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import queue
import sqlite3
import threading
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import msgspec

from calc_server.history.records import INTERRUPTED_BY, RunOutcome, RunRecord
from calc_server.history.schema import (
    PRUNE_RUNS,
    SELECT_RUNS,
    UPSERT_RUN,
    check_intact,
    check_ours,
    migrate,
    record_to_row,
    refusal,
    row_to_record,
)
from calc_server.history.store import HistoryFileRefused

log = logging.getLogger("calc_server.history")


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays between attempts while the file cannot be written: doubling, capped."""

    initial: float = 0.5
    maximum: float = 30.0


DEFAULT_BACKOFF = Backoff()
"""Half a second after the first failure, doubling up to 30 seconds."""


class Write(NamedTuple):
    """A record to keep; ``seq`` counts writes so readers can wait for theirs."""

    seq: int
    record: RunRecord


STOP = None
"""Queued by ``close``: write what is pending (one attempt) and end the thread."""


class Writer(threading.Thread):
    """Owns the writing connection and the lock that keeps other servers off the file.

    The first connection happens in the thread as soon as it starts; ``opened`` resolves when
    it is done (``HistoryFileRefused`` for a file that is not ours; a passing fault leaves the
    writer unavailable and retrying instead).
    """

    def __init__(
        self, path: Path, keep: int, busy_timeout: float, backoff: Backoff, max_pending: int
    ) -> None:
        super().__init__(name="calc-history-writer", daemon=True)
        self.path = path
        self.keep = keep
        self.busy_timeout = busy_timeout
        self.backoff = backoff
        self.max_pending = max_pending
        self.queue: queue.SimpleQueue[Write | None] = queue.SimpleQueue()
        self.opened: Future[None] = Future()
        self.available = True
        self.interrupted: list[RunRecord] | None = None
        self.stored_counts: Counter[RunOutcome] | None = None
        self.lock_fd: int | None = None
        self.dropped = 0
        self._conn: sqlite3.Connection | None = None
        self._pending: dict[str, RunRecord] = {}
        self._latest = 0
        self._flushed = 0
        self._done = threading.Condition()
        self._delay = backoff.initial
        self._retry_at = 0.0
        self._stopped = False

    # --- read side (any thread) ----------------------------------------------------------

    def wait_flushed(self, seq: int, timeout: float) -> bool:
        """Wait until write ``seq`` is on disk; False if the writer is unavailable or slow."""
        with self._done:
            self._done.wait_for(
                lambda: self._flushed >= seq or not self.available or self._stopped, timeout
            )
            return self._flushed >= seq and self.available

    # --- the thread ----------------------------------------------------------------------

    def run(self) -> None:
        """Connect, then write whatever arrives until ``STOP``."""
        try:
            self._connect()
        except HistoryFileRefused as refused:
            self._stopped = True
            self.opened.set_exception(refused)
            return
        except (sqlite3.Error, OSError) as error:
            self._fail(error)
        self.opened.set_result(None)
        stopping = False
        while not stopping:
            for item in self._next_items():
                if item is STOP:
                    stopping = True
                else:
                    self._take(item)
            if self.available or stopping or time.monotonic() >= self._retry_at:
                self._attempt()
        self._close()

    def _next_items(self) -> list[Write | None]:
        """Whatever is queued, waiting for the first item at most until the next retry."""
        items: list[Write | None] = []
        try:
            items.append(self.queue.get(timeout=self._wait()))
            while True:
                items.append(self.queue.get_nowait())
        except queue.Empty:
            pass
        return items

    def _wait(self) -> float | None:
        """How long to sleep on the queue: forever while healthy, until the retry else."""
        if self.available:
            return None
        return max(self._retry_at - time.monotonic(), 0.0)

    def _take(self, write: Write) -> None:
        # A run already pending keeps its place, so new runs still get written in start order.
        self._pending[write.record.calculation_id] = write.record
        self._latest = write.seq
        while len(self._pending) > self.max_pending:
            # Over the bound during a long outage: drop the oldest finished run, else the oldest.
            victim = next(
                (cid for cid, r in self._pending.items() if r.outcome is not None),
                next(iter(self._pending)),
            )
            del self._pending[victim]
            self.dropped += 1

    def _attempt(self) -> None:
        try:
            if self._conn is None:
                self._connect()
            if self._pending:
                self._flush()
        except (HistoryFileRefused, sqlite3.Error, OSError) as error:
            self._fail(error)
        else:
            self._recovered()

    def _connect(self) -> None:
        first = self.stored_counts is None
        if self.lock_fd is None:
            self.lock_fd = self._lock()
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        try:
            version = check_ours(conn, self.path)
            if first:
                check_intact(conn, self.path)
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise sqlite3.OperationalError(f"cannot switch to WAL (journal mode {mode})")
            conn.execute("PRAGMA synchronous = NORMAL")
            migrate(conn, version)
            if first:
                # Before this process writes anything, every open run belongs to a dead server.
                self.interrupted = self._close_open_runs(conn)
                totals = conn.execute("SELECT outcome, runs FROM outcome_totals").fetchall()
                self.stored_counts = Counter({RunOutcome(o): n for o, n in totals})
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _lock(self) -> int:
        """Hold an exclusive ``flock`` on the file: two servers on one file would mark each
        other's runs INTERRUPTED. (SQLite's own locks are POSIX locks, independent of it.)"""
        fd = os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise refusal(self.path, "in use by another calc server") from None
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _close_open_runs(self, conn: sqlite3.Connection) -> list[RunRecord]:
        rows = conn.execute(f"{SELECT_RUNS} WHERE outcome IS NULL ORDER BY seq").fetchall()
        closed = []
        for row in rows:
            record = row_to_record(row)
            closed.append(
                msgspec.structs.replace(
                    record,
                    outcome=RunOutcome.INTERRUPTED,
                    ended_by=INTERRUPTED_BY,
                    ended_at=record.last_seen,
                )
            )
        self._transaction(conn, [record_to_row(r) for r in closed])
        if closed:
            log.warning(
                "history: %d run(s) left open by a server that stopped unexpectedly: %s",
                len(closed),
                ", ".join(r.calculation_id for r in closed),
            )
        return closed

    def _transaction(self, conn: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
        """Write ``rows`` and apply retention, all or nothing."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(UPSERT_RUN, rows)
            conn.execute(PRUNE_RUNS, (self.keep,))
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):  # _fail drops the connection anyway
                conn.execute("ROLLBACK")
            raise

    def _flush(self) -> None:
        assert self._conn is not None
        self._transaction(self._conn, [record_to_row(r) for r in self._pending.values()])
        self._pending.clear()
        with self._done:
            self._flushed = self._latest
            self._done.notify_all()

    def _fail(self, error: Exception) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        self._retry_at = time.monotonic() + self._delay
        self._delay = min(self._delay * 2, self.backoff.maximum)
        was_available = self.available
        # The flag changes before the log line, so whoever reads the line sees the new state.
        with self._done:
            self.available = False
            self._done.notify_all()
        if was_available:
            log.warning(
                "history: cannot use %s (%s); the calculation goes on, history requests are "
                "refused and runs are kept in memory until it works again",
                self.path,
                error,
            )
        else:
            log.debug("history: %s still unusable: %s", self.path, error)

    def _recovered(self) -> None:
        self._delay = self.backoff.initial
        if self.available:
            return
        lost = f"; {self.dropped} run record(s) were dropped meanwhile" if self.dropped else ""
        self.dropped = 0
        with self._done:
            self.available = True
            self._done.notify_all()
        log.warning("history: %s is writable again%s", self.path, lost)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._pending:
            log.warning(
                "history: %d run record(s) not written to %s",
                len(self._pending),
                self.path,
            )
        with self._done:
            self._stopped = True
            self._done.notify_all()
