"""A calculation over real sockets: timing, cancel, joining mid-run, failure."""

from __future__ import annotations

import asyncio

import pytest

from calc_server.calculation import Calculation
from calc_server.keys import SERVICE
from calc_server.runner import RunningServer
from protocol import Ack, Cancel, Phase, Start, State, Sync, Welcome
from tests.conftest import ServerFactory
from tests.wsclient import RawClient

RUNNING = (Phase.STARTING, Phase.IN_PROGRESS, Phase.ALMOST_DONE)


async def open_ready(server: RunningServer) -> RawClient:
    return await RawClient.open_ready(server.url)


async def test_full_run_hits_every_stage_on_the_grid(server_factory: ServerFactory) -> None:
    stage = 0.25
    server = await server_factory(stage_seconds=stage)
    client = await open_ready(server)
    try:
        await client.send(Start(request_id="go"))
        await client.expect(State, lambda s: s.state is Phase.SUCCESS, timeout=3)
        run = [s for s in client.states() if s.seq >= 1]
        assert [s.state for s in run] == [*RUNNING, Phase.SUCCESS]
        assert [s.seq for s in run] == [1, 2, 3, 4]
        times = [client.received_at[client.messages.index(s)] for s in run]
        for k, (state, received) in enumerate(zip(run, times, strict=True)):
            if k in (1, 2):  # the server's own measure of lateness at the transition
                assert state.stage_elapsed < 0.02, state
            # and as a client sees it: on the grid t0 + k * stage, nothing accumulates
            assert received - times[0] == pytest.approx(k * stage, abs=0.03)
        assert run[-1].stage == 3
    finally:
        await client.close()


@pytest.mark.parametrize("stage_index", [0, 1, 2])
async def test_cancel_in_each_running_stage_and_nothing_after(
    server: RunningServer, stage_index: int
) -> None:
    client = await open_ready(server)
    try:
        await client.send(Start(request_id="go"))
        target = RUNNING[stage_index]
        running = await client.expect(State, lambda s: s.state is target)
        await client.send(Cancel(request_id="stop", calculation_id=running.calculation_id))
        ack = await client.ack("stop")
        assert ack.accepted
        canceled = await client.expect(State, lambda s: s.state is Phase.CANCELED)
        assert canceled.stage == stage_index
        assert canceled.ended_by == canceled.started_by  # the same client started and ended
        assert ack.seq == canceled.seq
        # past the time SUCCESS would have come, no state may follow CANCELED
        with pytest.raises(TimeoutError):
            await client.expect(State, lambda s: s.seq > canceled.seq, timeout=3 * 0.2 + 0.1)
    finally:
        await client.close()


async def test_client_joining_mid_calculation_gets_current_stage(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(stage_seconds=0.4)
    first = await open_ready(server)
    try:
        await first.send(Start(request_id="go"))
        in_progress = await first.expect(State, lambda s: s.state is Phase.IN_PROGRESS)
        await asyncio.sleep(0.1)  # join a known time into the stage
        late = await RawClient.open(server.url)
        welcome = await late.expect(Welcome)
        snap = await late.expect(State)
        assert welcome.clients == 2
        assert (snap.state, snap.seq, snap.calculation_id) == (
            Phase.IN_PROGRESS,
            in_progress.seq,
            in_progress.calculation_id,
        )
        assert 0.08 <= snap.stage_elapsed <= 0.3
        done = await late.expect(State, lambda s: s.state is Phase.SUCCESS)
        assert done.seq == in_progress.seq + 2
        await late.close()
    finally:
        await first.close()


async def test_rejections_over_the_wire(server: RunningServer) -> None:
    client = await open_ready(server)
    try:
        await client.send(Cancel(request_id="c0"))
        assert (await client.ack("c0")).reason == "not_running"
        await client.send(Start(request_id="s1"))
        assert (await client.ack("s1")).accepted
        await client.send(Start(request_id="s2"))
        rejected = await client.ack("s2")
        assert (rejected.accepted, rejected.reason) == (False, "already_running")
        await client.send(Cancel(request_id="c1", calculation_id="not-this-one"))
        assert (await client.ack("c1")).reason == "stale_calculation"
        starts = [s for s in client.states() if s.state is Phase.STARTING]
        assert len(starts) == 1  # no second calculation
    finally:
        await client.close()


async def test_duplicate_request_id_gets_same_answer_and_nothing_twice(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(stage_seconds=1.0)
    client = await open_ready(server)
    try:
        await client.send(Start(request_id="once"))
        first = await client.ack("once")
        await client.expect(State, lambda s: s.state is Phase.STARTING)
        await client.send(Cancel(request_id="stop"))
        await client.ack("stop")
        await client.expect(State, lambda s: s.state is Phase.CANCELED)
        await client.send(Start(request_id="once"))  # a retry of the old request
        second = await client.ack("once")
        assert second == first
        await client.send(Sync(request_id="after"))
        await client.ack("after")
        assert client.states()[-1].state is Phase.CANCELED
        assert sum(s.state is Phase.STARTING for s in client.states()) == 1
    finally:
        await client.close()


async def test_two_clients_racing_start_make_exactly_one_calculation(
    server: RunningServer,
) -> None:
    a, b = await open_ready(server), await open_ready(server)
    try:
        await asyncio.gather(a.send(Start(request_id="a")), b.send(Start(request_id="b")))
        acks = [await a.ack("a"), await b.ack("b")]
        assert sorted(ack.accepted for ack in acks) == [False, True]
        assert [ack.reason for ack in acks if not ack.accepted] == ["already_running"]
        for client in (a, b):
            await client.expect(State, lambda s: s.state is Phase.SUCCESS)
            ids = {s.calculation_id for s in client.states() if s.seq > 0}
            assert len(ids) == 1
    finally:
        await a.close()
        await b.close()


@pytest.mark.parametrize("offset", [-0.004, -0.001, 0.0, 0.001, 0.004])
async def test_cancel_racing_the_final_transition_ends_in_one_terminal_state(
    server_factory: ServerFactory, offset: float
) -> None:
    stage = 0.05
    server = await server_factory(stage_seconds=stage)
    client = await open_ready(server)
    try:
        await client.send(Start(request_id="go"))
        await client.ack("go")
        almost = await client.expect(State, lambda s: s.state is Phase.ALMOST_DONE)
        await asyncio.sleep(max(stage - almost.stage_elapsed + offset, 0))
        await client.send(Cancel(request_id="race"))
        ack = await client.ack("race")
        terminal = await client.expect(State, lambda s: s.state.terminal)
        await client.send(Sync(request_id="after"))
        await client.ack("after")
        finals = [s.state for s in client.states() if s.state.terminal]
        assert len({(s.seq, s.state) for s in client.states() if s.state.terminal}) == 1
        if ack.accepted:
            assert terminal.state is Phase.CANCELED
        else:
            assert (terminal.state, ack.reason) == (Phase.SUCCESS, "not_running")
        assert set(finals) == {terminal.state}
    finally:
        await client.close()


async def test_unexpected_failure_of_the_calculation_becomes_failed(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await open_ready(server)
    try:
        await client.send(Start(request_id="go"))
        await client.expect(State, lambda s: s.state is Phase.STARTING)

        def broken(self: Calculation, now: float) -> list[State]:
            raise RuntimeError("injected fault in the calculation")

        monkeypatch.setattr(Calculation, "advance", broken)
        failed = await client.expect(State, lambda s: s.state is Phase.FAILED)
        assert failed.ended_by == "server error"
        monkeypatch.undo()
        assert server.app[SERVICE].calculation.deadline() is None  # nothing left armed
        await client.send(Start(request_id="again"))
        assert (await client.ack("again")).accepted
        await client.expect(State, lambda s: s.state is Phase.SUCCESS)
        assert not [m for m in client.messages if isinstance(m, Ack) and not m.accepted]
    finally:
        await client.close()
