"""The server keeps run history: every outcome, across restarts, paged, and never in the way.

Real servers on 127.0.0.1 with real SQLite files in the test's temporary directory; clients
speak the protocol over real WebSockets.
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import aiohttp

from calc_server.calculation import Calculation
from calc_server.keys import SERVICE
from calc_server.runner import RunningServer
from protocol import Cancel, Error, ErrorCode, Phase, Start, State, Welcome
from tests.conftest import ServerFactory
from tests.server.history_client import history, run_until, welcome_of
from tests.wsclient import RawClient


class FailingCalculation(Calculation):
    """A calculation whose first timed transition raises: the service's real failure path."""

    def advance(self, now: float) -> list[State]:
        deadline = self.deadline()
        if deadline is not None and now >= deadline:
            raise RuntimeError("injected fault")
        return super().advance(now)


def make_failing(server: RunningServer) -> None:
    """From now on the server's calculation fails at its first stage change."""
    service = server.app[SERVICE]
    old = service.calculation
    service.calculation = FailingCalculation(epoch=old.epoch, stage_duration=old.stage_duration)


def make_slow(server: RunningServer) -> None:
    """From now on the server's calculation takes a minute per stage."""
    service = server.app[SERVICE]
    service.calculation = Calculation(epoch=service.calculation.epoch, stage_duration=60.0)


async def start_run(client: RawClient, rid: str) -> State:
    """Start a run and return its STARTING state."""
    sent = await client.send(Start(request_id=rid))
    assert (await client.ack(rid, since=sent)).accepted
    return await client.expect(State, lambda s: s.state is Phase.STARTING and s.seq > 0, since=sent)


async def test_every_outcome_is_recorded_and_kept_across_a_restart(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    path = tmp_path / "history.sqlite3"
    server = await server_factory(history=path)
    client = await RawClient.open_ready(server.url)
    welcome = client.messages[0]
    assert isinstance(welcome, Welcome)
    assert "history" in welcome.features
    assert welcome.last_run is None  # a new file: nothing has run yet

    succeeded = await start_run(client, "s1")
    await run_until(client, Phase.SUCCESS)
    canceled = await start_run(client, "s2")
    await client.send(Cancel(request_id="c2"))
    await run_until(client, Phase.CANCELED)
    make_failing(server)
    failed = await start_run(client, "s3")
    await run_until(client, Phase.FAILED)
    make_slow(server)
    shut = await start_run(client, "s4")
    await client.close()
    await server.stop()  # a graceful shutdown cancels the running calculation

    again = await server_factory(history=path)
    welcome = await welcome_of(again.url)
    assert welcome.last_run is not None
    assert welcome.last_run.calculation_id == shut.calculation_id
    client = await RawClient.open_ready(again.url)
    page = await history(client)
    assert not page.more
    assert [r.calculation_id for r in page.runs] == [
        shut.calculation_id,
        failed.calculation_id,
        canceled.calculation_id,
        succeeded.calculation_id,
    ]
    assert [(r.outcome, r.ended_by) for r in page.runs] == [
        ("CANCELED", "server shutdown"),
        ("FAILED", "server error"),
        ("CANCELED", canceled.started_by),  # the same client started and canceled it
        ("SUCCESS", None),
    ]
    success = page.runs[3]
    assert success.started_by == succeeded.started_by
    assert len(success.stage_seconds) == 3
    assert success.ended_at is not None
    assert success.ended_at >= success.started_at
    assert math.isclose(sum(success.stage_seconds), success.ended_at - success.started_at)
    await client.close()


async def test_pages_go_back_in_time_and_one_run_comes_whole(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = await server_factory(history=tmp_path / "history.sqlite3")
    client = await RawClient.open_ready(server.url)
    ids = []
    for i in range(5):
        ids.append((await start_run(client, f"s{i}")).calculation_id)
        await client.send(Cancel(request_id=f"c{i}"))
        await client.ack(f"c{i}")
    newest_first = ids[::-1]

    first = await history(client, limit=2)
    assert ([r.calculation_id for r in first.runs], first.more) == (newest_first[:2], True)
    second = await history(client, limit=2, before=first.runs[-1].calculation_id)
    assert ([r.calculation_id for r in second.runs], second.more) == (newest_first[2:4], True)
    last = await history(client, limit=2, before=second.runs[-1].calculation_id)
    assert ([r.calculation_id for r in last.runs], last.more) == (newest_first[4:], False)
    assert (await history(client, before="never-kept")).runs == []

    one = await history(client, calculation_id=ids[2])
    assert ([r.calculation_id for r in one.runs], one.more) == ([ids[2]], False)
    assert one.runs[0].outcome == "CANCELED"
    assert (await history(client, calculation_id="never-kept")).runs == []

    for limit in (0, 101):
        await client.send(f'{{"type":"history","request_id":"bad{limit}","limit":{limit}}}')
        error = await client.expect(Error, lambda e, rid=f"bad{limit}": e.request_id == rid)
        assert error.code == ErrorCode.BAD_MESSAGE
        assert "limit" in error.message
    await client.close()


async def test_history_none_keeps_runs_in_memory(server_factory: ServerFactory) -> None:
    server = await server_factory()  # the tests' settings: history=None
    client = await RawClient.open_ready(server.url)
    run = await start_run(client, "s1")
    await run_until(client, Phase.SUCCESS)
    page = await history(client)
    assert [(r.calculation_id, r.outcome) for r in page.runs] == [(run.calculation_id, "SUCCESS")]
    welcome = await welcome_of(server.url)
    assert welcome.last_run is not None
    assert welcome.last_run.calculation_id == run.calculation_id
    await client.close()


async def test_a_state_change_reaches_clients_while_the_history_file_is_locked(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    path = tmp_path / "history.sqlite3"
    server = await server_factory(history=path)
    client = await RawClient.open_ready(server.url)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # the history's writer cannot write until it ends
    try:
        run = await start_run(client, "s1")
        await run_until(client, Phase.SUCCESS)
        written = blocker.execute(
            "SELECT count(*) FROM runs WHERE calculation_id = ?", (run.calculation_id,)
        ).fetchone()[0]
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    # Every state of the run went out while none of it could be written.
    assert written == 0
    page = await history(client)
    assert [(r.calculation_id, r.outcome) for r in page.runs] == [(run.calculation_id, "SUCCESS")]
    await client.close()


async def test_metrics_count_runs_by_outcome_across_restarts(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    path = tmp_path / "history.sqlite3"
    server = await server_factory(history=path)
    client = await RawClient.open_ready(server.url)
    await start_run(client, "s1")
    await run_until(client, Phase.SUCCESS)
    await start_run(client, "s2")
    await client.send(Cancel(request_id="c2"))
    await run_until(client, Phase.CANCELED)
    await client.close()
    await server.stop()

    again = await server_factory(history=path)
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{again.http_url}/metrics") as response,
    ):
        text = await response.text()
    assert 'calc_runs_total{outcome="SUCCESS"} 1' in text
    assert 'calc_runs_total{outcome="CANCELED"} 1' in text
    assert 'calc_runs_total{outcome="INTERRUPTED"} 0' in text
