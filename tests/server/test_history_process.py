"""A real ``calc-server`` process and its history file: killed mid-run, a full disk, a
read-only file, a file that is not ours.

Each fault is real: SIGKILL, a file size limit set on the running server (every write past it
fails with EFBIG, as on a full disk), permission bits (bound for root too: the server runs
without capabilities), and files that are not calc histories.
"""

from __future__ import annotations

import resource
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from protocol import Error, ErrorCode, Phase, Start, State
from tests.processes import ServerProcess, refused
from tests.server.history_client import ask, history, run_until, welcome_of
from tests.wsclient import RawClient

CANNOT_USE = "history: cannot use"
WORKS_AGAIN = "is writable again"


def lines(server: ServerProcess, text: str) -> list[str]:
    """The server's log lines containing ``text``."""
    return [line for line in server.log if text in line]


async def run_to_success(client: RawClient, rid: str) -> str:
    """Start a run and follow it to SUCCESS; its calculation id."""
    mark = await client.send(Start(request_id=rid))
    assert (await client.ack(rid, since=mark)).accepted
    started = await client.expect(
        State, lambda s: s.state is Phase.STARTING and s.seq > 0, since=mark
    )
    ended = await run_until(client, Phase.SUCCESS)
    assert ended.calculation_id == started.calculation_id
    assert started.calculation_id is not None
    return started.calculation_id


async def test_sigkill_mid_run_then_restart_tells_clients_the_run_was_interrupted(
    tmp_path: Path,
) -> None:
    path = tmp_path / "history.sqlite3"
    old = await ServerProcess.start("--history", str(path), "--stage-seconds", "30")
    new: ServerProcess | None = None
    try:
        client = await RawClient.open_ready(old.url)
        mark = await client.send(Start(request_id="s1"))
        run = await client.expect(
            State, lambda s: s.state is Phase.STARTING and s.seq > 0, since=mark
        )
        # A read waits for the writes before it: the open run is on disk now.
        assert [r.outcome for r in (await history(client)).runs] == [None]
        old.signal(signal.SIGKILL)
        assert await old.wait() == -signal.SIGKILL
        await client.close()

        new = await ServerProcess.start("--history", str(path))
        welcome = await welcome_of(new.url)
        assert welcome.last_run is not None
        assert welcome.last_run.calculation_id == run.calculation_id
        assert welcome.last_run.outcome == "INTERRUPTED"
        assert welcome.last_run.ended_by == "server stopped unexpectedly"
        client = await RawClient.open_ready(new.url)
        (kept,) = (await history(client)).runs
        assert (kept.calculation_id, kept.outcome) == (run.calculation_id, "INTERRUPTED")
        assert kept.started_by == run.started_by
        await client.close()
        assert lines(new, run.calculation_id or "?")  # the log names the interrupted run
    finally:
        await old.stop()
        if new is not None:
            await new.stop()


async def test_a_full_disk_keeps_the_server_serving_and_history_comes_back(
    tmp_path: Path,
) -> None:
    path = tmp_path / "history.sqlite3"
    server = await ServerProcess.start("--history", str(path), "--stage-seconds", "0.1")
    try:
        client = await RawClient.open_ready(server.url)
        before = await run_to_success(client, "s1")
        assert [r.calculation_id for r in (await history(client)).runs] == [before]

        _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (1, hard))
        during = await run_to_success(client, "s2")  # the calculation goes on
        await server.wait_log(CANNOT_USE)
        refused = await ask(client)
        assert isinstance(refused, Error)
        assert refused.code == ErrorCode.HISTORY_UNAVAILABLE
        after = await run_to_success(client, "s3")

        resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (hard, hard))
        await server.wait_log(WORKS_AGAIN)
        runs = (await history(client)).runs
        assert [(r.calculation_id, r.outcome) for r in runs] == [
            (after, "SUCCESS"),
            (during, "SUCCESS"),
            (before, "SUCCESS"),
        ]
        assert len(lines(server, CANNOT_USE)) == 1  # logged once for the whole outage
        assert any("too large" in line or "disk" in line for line in lines(server, CANNOT_USE))
        await client.close()
    finally:
        await server.stop()


async def test_a_read_only_history_file_keeps_the_server_serving(tmp_path: Path) -> None:
    path = tmp_path / "history" / "history.sqlite3"
    path.parent.mkdir()
    first = await ServerProcess.start("--history", str(path), "--stage-seconds", "0.1")
    client = await RawClient.open_ready(first.url)
    kept = await run_to_success(client, "s1")
    await client.close()
    first.signal(signal.SIGTERM)
    assert await first.wait() == 0
    path.chmod(0o444)
    path.parent.chmod(0o555)
    nocaps = (sys.executable, "-m", "tests.server.nocaps")
    server = await ServerProcess.start(
        "--history", str(path), "--stage-seconds", "0.1", launcher=nocaps
    )
    try:
        client = await RawClient.open_ready(server.url)
        await run_to_success(client, "s2")
        refused = await ask(client)
        assert isinstance(refused, Error)
        assert refused.code == ErrorCode.HISTORY_UNAVAILABLE
        assert len(lines(server, CANNOT_USE)) == 1
        assert str(path) in lines(server, CANNOT_USE)[0]
        await client.close()
    finally:
        path.parent.chmod(0o755)
        path.chmod(0o644)
        await server.stop()
    with sqlite3.connect(path) as db:  # untouched: the first server's run is all it holds
        assert db.execute("SELECT calculation_id FROM runs").fetchall() == [(kept,)]


def not_a_database(path: Path) -> None:
    path.write_bytes(b"these are my notes, not a database\n" * 200)


def someone_elses_database(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        db.execute("INSERT INTO invoices (total) VALUES (12.5)")
    db.close()


@pytest.mark.parametrize("make", [not_a_database, someone_elses_database])
async def test_a_file_that_is_not_a_calc_history_is_refused_and_left_as_it_was(
    tmp_path: Path, make: object
) -> None:
    path = tmp_path / "history.sqlite3"
    assert callable(make)
    make(path)
    before = path.read_bytes()
    ended = await refused("--no-auth", "--history", str(path))
    assert ended.code == 1
    errors = [line for line in ended.log_lines if " ERROR " in line]
    assert len(errors) == 1
    assert str(path) in errors[0]
    assert "--history none" in errors[0]
    assert "listening" not in ended.stderr
    assert path.read_bytes() == before
    assert files_in(tmp_path) == ["history.sqlite3"]  # no journal or WAL was made beside it


def files_in(directory: Path) -> list[str]:
    """The names in ``directory``, sorted."""
    return sorted(p.name for p in directory.iterdir())
