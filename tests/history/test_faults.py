"""Faults of the file: the store keeps taking runs, says it is unavailable, logs once, recovers.

Each fault is real: another connection holding the write lock, a file size limit that makes
every write fail (EFBIG, as on a full disk), and permission bits (for root, in a child that
has dropped every capability, so the bits bind as they do for everyone else).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from calc_server.history import HistoryUnavailable, RunOutcome
from calc_server.history.writer import Backoff

from .conftest import OpenSqlite
from .driver import Child

CANNOT_USE = "history: cannot use"
WORKS_AGAIN = "is writable again"
RETRYING = "still unusable"


class LogWatch(logging.Handler):
    """Collects the history logger's lines (from any thread) and wakes waiters on each."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        self._loop.call_soon_threadsafe(self._changed.set)

    def count(self, text: str) -> int:
        """Lines containing ``text``."""
        return sum(text in line for line in self.lines)

    async def wait(self, text: str, count: int = 1, timeout: float = 30.0) -> None:
        """Wait until ``count`` lines contain ``text``."""
        async with asyncio.timeout(timeout):
            while self.count(text) < count:
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture
async def history_log() -> AsyncIterator[LogWatch]:
    """The history logger's lines, at DEBUG, for this test."""
    logger = logging.getLogger("calc_server.history")
    watch = LogWatch()
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(watch)
    yield watch
    logger.removeHandler(watch)
    logger.setLevel(level)


def make_read_only(path: Path) -> None:
    """The file and its directory lose their write bits."""
    path.chmod(0o444)
    path.parent.chmod(0o555)


def make_writable(path: Path) -> None:
    """The file and its directory get their write bits back (for the owner)."""
    path.parent.chmod(0o755)
    path.chmod(0o644)


async def test_recording_never_waits_for_a_writer_stalled_on_a_lock(
    open_sqlite: OpenSqlite, history_path: Path
) -> None:
    store = await open_sqlite(busy_timeout=600.0)  # the writer would wait for the lock "forever"
    store.record_start("before", "alice")
    await store.get("before")
    blocker = sqlite3.connect(history_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # holds the write lock; readers still read

    for i in range(200):
        store.record_start(f"run-{i}", "alice")
        store.record_stage(f"run-{i}", 1)
        store.record_end(f"run-{i}", RunOutcome.SUCCESS, None)
    written = blocker.execute("SELECT count(*) FROM runs").fetchone()[0]
    blocker.execute("ROLLBACK")
    blocker.close()

    assert written == 1  # all 600 calls returned while nothing could be written
    last = await store.get("run-199")
    assert last is not None
    assert last.outcome is RunOutcome.SUCCESS
    assert len((await store.page(100)).runs) == 100


async def test_a_locked_database_makes_the_store_unavailable_until_the_lock_goes(
    open_sqlite: OpenSqlite, history_path: Path, history_log: LogWatch
) -> None:
    store = await open_sqlite(busy_timeout=0.05, backoff=Backoff(0.02, 0.1))
    blocker = sqlite3.connect(history_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        store.record_start("locked-out", "alice")
        await history_log.wait(RETRYING, count=3)  # it failed, then retried
        assert not store.available
        with pytest.raises(HistoryUnavailable):
            await store.page(10)
        store.record_end("locked-out", RunOutcome.CANCELED, "bob")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    await history_log.wait(WORKS_AGAIN)
    assert store.available
    run = await store.get("locked-out")
    assert run is not None
    assert run.outcome is RunOutcome.CANCELED
    assert history_log.count(CANNOT_USE) == 1
    assert history_log.count(WORKS_AGAIN) == 1


async def test_a_full_disk_keeps_runs_in_memory_and_writes_them_when_space_returns(
    history_path: Path,
) -> None:
    child, opened = await Child.start(history_path)
    assert opened == {"opened": True, "available": True}
    try:
        await child.send("start first")
        await child.send("end first SUCCESS")
        assert (await child.send("get first"))["run"]["outcome"] == "SUCCESS"

        await child.send("fsize 1")  # from now on no write to a file can succeed
        await child.send("start during")
        await child.wait_log(RETRYING, count=3)
        assert (await child.send("available")) == {"available": False}
        assert "unavailable" in await child.send("get first")
        await child.send("end during FAILED")

        await child.send("fsize -1")
        await child.wait_available(True)
        during = (await child.send("get during"))["run"]
        assert (during["outcome"], during["ended_by"]) == ("FAILED", "child")
        assert len(child.lines(CANNOT_USE)) == 1
        assert any("too large" in line or "disk" in line for line in child.lines(CANNOT_USE))
        assert len(child.lines(WORKS_AGAIN)) == 1
        await child.stop()
    finally:
        if child.proc.returncode is None:
            await child.kill()


async def test_a_read_only_file_keeps_the_store_up_and_it_recovers_when_writable(
    open_sqlite: OpenSqlite, history_path: Path
) -> None:
    store = await open_sqlite()
    store.record_start("kept", "alice")
    store.record_end("kept", RunOutcome.SUCCESS, None)
    await store.close()
    make_read_only(history_path)

    child, opened = await Child.start(history_path, "--drop-caps")
    try:
        assert opened == {"opened": True, "available": False}  # up, not refused
        await child.send("start while-read-only")
        await child.wait_log(RETRYING, count=3)
        assert "unavailable" in await child.send("get kept")
        assert len(child.lines(CANNOT_USE)) == 1

        make_writable(history_path)
        await child.wait_available(True)
        assert (await child.send("get kept"))["run"]["outcome"] == "SUCCESS"
        assert (await child.send("get while-read-only"))["run"]["started_by"] == "child"
        assert len(child.lines(WORKS_AGAIN)) == 1
        await child.stop()
    finally:
        make_writable(history_path)
        if child.proc.returncode is None:
            await child.kill()
