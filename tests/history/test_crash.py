"""SIGKILL: a run open in a killed process comes back INTERRUPTED, and the file stays readable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from calc_server.history import RunOutcome, SqliteHistory
from calc_server.history.records import INTERRUPTED_BY

from .driver import Child

KILLS = 20


async def test_a_run_open_when_its_process_is_killed_is_interrupted_on_next_open(
    history_path: Path,
) -> None:
    child, opened = await Child.start(history_path)
    assert opened == {"opened": True, "available": True}
    await child.send("start crashed")
    await child.send("stage crashed 1")
    assert (await child.send("get crashed"))["run"]["stage_seconds"]  # on disk
    await child.kill()

    store = await SqliteHistory.open(history_path)
    try:
        interrupted = await store.mark_interrupted()
        assert [r.calculation_id for r in interrupted] == ["crashed"]
        run = await store.get("crashed")
        assert run is not None
        assert (run.outcome, run.ended_by) == (RunOutcome.INTERRUPTED, INTERRUPTED_BY)
        assert run.ended_at == run.started_at + run.stage_seconds[0]
    finally:
        await store.close()


@pytest.mark.timeout(300)
async def test_sigkill_during_writes_many_times_leaves_a_readable_history(
    history_path: Path,
) -> None:
    for kill in range(KILLS):
        child, opened = await Child.start(history_path, "--keep", "40")
        assert opened["opened"], opened
        await child.send(f"start open-{kill}")
        assert (await child.send(f"get open-{kill}"))["run"] is not None
        assert (await child.send("flood"))["flushed"]
        for _ in range(kill % 4):  # kill at a different point each time, writes still flowing
            assert (await child.read())["flushed"]
        await child.kill()

        with sqlite3.connect(history_path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        conn.close()
        store = await SqliteHistory.open(history_path, keep=40)
        try:
            reopened = await store.mark_interrupted()
            assert f"open-{kill}" in [r.calculation_id for r in reopened]
            runs, _ = await store.page(100)
            assert 0 < len(runs) <= 40
            assert all(r.outcome is not None for r in runs)
        finally:
            await store.close()

    store = await SqliteHistory.open(history_path, keep=40)
    try:
        counts = store.counts_by_outcome()
        assert counts[RunOutcome.INTERRUPTED] >= KILLS
        assert counts[RunOutcome.SUCCESS] >= KILLS
    finally:
        await store.close()
