"""The SQLite history file: it survives restarts, migrates old versions, refuses foreign files."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from pathlib import Path

import pytest

from calc_server.history import (
    HistoryFileRefused,
    RunOutcome,
    SqliteHistory,
    default_history_path,
)
from calc_server.history.records import INTERRUPTED_BY
from calc_server.history.schema import APPLICATION_ID, LATEST_VERSION, migrate

from .conftest import OpenSqlite


def schema_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def has_wal(path: Path) -> bool:
    return Path(f"{path}-wal").exists()


def make_empty(path: Path) -> None:
    path.write_bytes(b"")


def garble_pages(path: Path) -> None:
    """Overwrite two pages in the middle of the file with garbage."""
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    assert len(data) > 6 * page_size
    data[3 * page_size : 5 * page_size] = b"\x5a" * (2 * page_size)
    path.write_bytes(data)


async def test_records_reach_the_file_once_the_callback_that_made_them_is_over(
    open_sqlite: OpenSqlite, history_path: Path
) -> None:
    store = await open_sqlite()
    store.record_start("a", "alice", at=1.0)
    store.record_stage("a", 1, at=3.0)
    await asyncio.sleep(0)  # the loop goes on: no read, no close asks for them
    assert await asyncio.to_thread(store._writer.wait_flushed, 2, 30.0)
    with sqlite3.connect(history_path) as conn:
        rows = conn.execute("SELECT calculation_id, stage_seconds FROM runs").fetchall()
    assert rows == [("a", "[2.0]")]


def test_the_default_file_is_named_after_the_port_in_the_state_directory(tmp_path: Path) -> None:
    assert default_history_path(tmp_path, 8765) == tmp_path / "history-8765.sqlite3"


async def test_a_new_store_on_the_same_file_keeps_every_run(
    open_sqlite: OpenSqlite, history_path: Path
) -> None:
    first = await open_sqlite()
    for i, outcome in enumerate([RunOutcome.SUCCESS, RunOutcome.CANCELED, RunOutcome.FAILED]):
        first.record_start(f"run-{i}", "alice", at=10.0 * i, command=f"job {i}")
        first.record_stage(f"run-{i}", 1, at=10.0 * i + 1)
        first.record_end(f"run-{i}", outcome, "bob", at=10.0 * i + 3, exit_code=i)
    before = await first.page(10)
    await first.close()
    assert not has_wal(history_path)  # a clean close folds the WAL back in

    restarted = await open_sqlite()

    assert await restarted.mark_interrupted() == []
    assert await restarted.page(10) == before
    assert [r.outcome for r in before.runs] == [
        RunOutcome.FAILED,
        RunOutcome.CANCELED,
        RunOutcome.SUCCESS,
    ]
    assert restarted.counts_by_outcome() == {
        RunOutcome.SUCCESS: 1,
        RunOutcome.CANCELED: 1,
        RunOutcome.FAILED: 1,
        RunOutcome.INTERRUPTED: 0,
    }
    assert schema_version(history_path) == LATEST_VERSION


async def test_a_run_left_open_is_interrupted_when_the_file_is_next_opened(
    open_sqlite: OpenSqlite,
) -> None:
    first = await open_sqlite()
    first.record_start("crashed", "alice", at=100.0)
    first.record_stage("crashed", 1, at=102.0)
    await first.close()  # closed with the run still open, as if the server had died

    restarted = await open_sqlite()
    interrupted = await restarted.mark_interrupted()

    assert [r.calculation_id for r in interrupted] == ["crashed"]
    run = interrupted[0]
    assert (run.outcome, run.ended_by) == (RunOutcome.INTERRUPTED, INTERRUPTED_BY)
    assert run.ended_at == 102.0  # the last moment the history heard of it
    assert await restarted.get("crashed") == run
    assert restarted.counts_by_outcome()[RunOutcome.INTERRUPTED] == 1


async def test_a_smaller_keep_prunes_on_open(open_sqlite: OpenSqlite, history_path: Path) -> None:
    first = await open_sqlite()
    for i in range(10):
        first.record_start(f"run-{i}", "alice", at=float(i))
        first.record_end(f"run-{i}", RunOutcome.SUCCESS, None, at=i + 0.1)
    await first.page(1)
    await first.close()

    smaller = await open_sqlite(keep=3)

    runs, more = await smaller.page(100)
    assert [r.calculation_id for r in runs] == ["run-9", "run-8", "run-7"]
    assert not more
    assert smaller.counts_by_outcome()[RunOutcome.SUCCESS] == 10


async def test_a_version_1_file_is_migrated_with_its_runs(
    open_sqlite: OpenSqlite, history_path: Path
) -> None:
    conn = sqlite3.connect(history_path, isolation_level=None)
    migrate(conn, 0, target=1)
    conn.executemany(
        "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?)",
        [
            ("v1-a", "alice", 1.0, 4.0, "SUCCESS", None),
            ("v1-b", "bob", 5.0, 6.0, "CANCELED", "carol"),
            ("v1-c", "dave", 7.0, 9.0, "FAILED", "exit code 1"),
            ("v1-d", "erin", 10.0, None, None, None),
        ],
    )
    conn.close()
    assert schema_version(history_path) == 1

    store = await open_sqlite()
    interrupted = await store.mark_interrupted()
    store.record_start("v2-a", "frank", at=20.0)
    runs, more = await store.page(10)

    assert schema_version(history_path) == LATEST_VERSION == 2
    assert [r.calculation_id for r in interrupted] == ["v1-d"]
    assert [r.calculation_id for r in runs] == ["v2-a", "v1-d", "v1-c", "v1-b", "v1-a"]
    assert not more
    assert runs[3].ended_by == "carol"
    assert runs[4].stage_seconds == ()
    assert store.counts_by_outcome() == {
        RunOutcome.SUCCESS: 1,
        RunOutcome.CANCELED: 1,
        RunOutcome.FAILED: 1,
        RunOutcome.INTERRUPTED: 1,
    }


def make_foreign_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (name TEXT)")
        conn.execute("INSERT INTO customers VALUES ('ada')")
    conn.close()


def make_other_application(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA application_id = 42")
        conn.execute("CREATE TABLE runs (x)")
    conn.close()


def make_newer_schema(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("PRAGMA user_version = 99")
        conn.execute("CREATE TABLE runs (x)")
    conn.close()


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda p: p.write_bytes(b"these are not the runs you are looking for\n" * 100), "not a"),
        (lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000), "not a"),
        (make_foreign_sqlite, "something else"),
        (make_other_application, "something else"),
        (make_newer_schema, "unknown schema version 99"),
    ],
    ids=["text", "bad-header", "foreign-sqlite", "other-application-id", "newer-schema"],
)
async def test_a_file_that_is_not_ours_is_refused_in_one_line_and_left_untouched(
    history_path: Path, make: object, why: str
) -> None:
    assert callable(make)
    make(history_path)
    before = digest(history_path)

    with pytest.raises(HistoryFileRefused) as refused:
        await SqliteHistory.open(history_path)

    message = str(refused.value)
    assert "\n" not in message
    assert str(history_path) in message
    assert why in message
    assert "--history none" in message
    assert "move it" in message
    assert digest(history_path) == before
    assert not has_wal(history_path)


async def test_a_damaged_history_file_is_refused_and_left_untouched(
    open_sqlite: OpenSqlite, history_path: Path
) -> None:
    store = await open_sqlite()
    for i in range(400):
        store.record_start(f"run-{i:03}", "alice", at=float(i), command="x" * 200)
        store.record_end(f"run-{i:03}", RunOutcome.SUCCESS, None, at=i + 0.5)
    await store.page(1)
    await store.close()
    garble_pages(history_path)
    before = digest(history_path)

    with pytest.raises(HistoryFileRefused, match="damaged") as refused:
        await SqliteHistory.open(history_path)

    assert "\n" not in str(refused.value)
    assert digest(history_path) == before


async def test_an_empty_file_is_taken_as_a_new_history(
    open_sqlite: OpenSqlite, history_path: Path
) -> None:
    make_empty(history_path)
    store = await open_sqlite()
    store.record_start("a", "alice")
    assert [r.calculation_id for r in (await store.page(5)).runs] == ["a"]


async def test_a_file_in_use_by_another_server_is_refused_until_it_lets_go(
    open_sqlite: OpenSqlite, history_path: Path
) -> None:
    first = await open_sqlite()
    first.record_start("a", "alice")
    await first.page(1)

    with pytest.raises(HistoryFileRefused, match="in use by another calc server"):
        await SqliteHistory.open(history_path)
    assert (await first.get("a")) is not None  # its open run was not marked by the refused one

    await first.close()
    second = await open_sqlite()
    assert [r.calculation_id for r in await second.mark_interrupted()] == ["a"]
