"""Stores on real files in the test's temporary directory, closed at teardown."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from calc_server.history import HistoryStore, MemoryHistory, SqliteHistory

OpenSqlite = Callable[..., Awaitable[SqliteHistory]]
MakeStore = Callable[..., Awaitable[HistoryStore]]


@pytest.fixture
def history_path(tmp_path: Path) -> Path:
    """Where the test's history file goes."""
    return tmp_path / "history-8765.sqlite3"


@pytest.fixture
async def open_sqlite(history_path: Path) -> AsyncIterator[OpenSqlite]:
    """Open ``SqliteHistory`` stores (``history_path`` unless given); all close at teardown."""
    stores: list[SqliteHistory] = []

    async def make(path: Path | None = None, **options: Any) -> SqliteHistory:
        options.setdefault("read_wait", 30.0)
        store = await SqliteHistory.open(path or history_path, **options)
        stores.append(store)
        return store

    yield make
    for store in stores:
        await store.close()


@pytest.fixture(params=["memory", "sqlite"])
async def make_store(request: pytest.FixtureRequest, open_sqlite: OpenSqlite) -> MakeStore:
    """Build a store of each kind: the behaviour the server relies on is the same."""

    async def make(keep: int = 10_000) -> HistoryStore:
        if request.param == "memory":
            return MemoryHistory(keep=keep)
        return await open_sqlite(keep=keep)

    return make
