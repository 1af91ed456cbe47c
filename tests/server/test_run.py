"""A calculation over real sockets: timing, cancel, joining mid-run, failure."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from calc_server.calculation import Calculation
from calc_server.keys import SERVICE
from calc_server.runner import RunningServer
from protocol import Ack, Cancel, Phase, Start, State, Sync, Welcome
from tests.conftest import LONG_STAGE, ServerFactory, both_presence_delays, with_longer_stages
from tests.looplag import LoopLag
from tests.wsclient import RawClient

pytestmark = both_presence_delays
"""Each test against a server with the presence delay and one without."""

RUNNING = (Phase.STARTING, Phase.IN_PROGRESS, Phase.ALMOST_DONE)


async def open_ready(server: RunningServer) -> RawClient:
    return await RawClient.open_ready(server.url)


async def synced(client: RawClient, request_id: str = "sync") -> None:
    """Round trip a ``sync``: whatever the server sent before its answer has arrived."""
    await client.ack(request_id, since=await client.send(Sync(request_id=request_id)))


async def test_full_run_hits_every_stage_on_the_grid(server_factory: ServerFactory) -> None:
    stage = 0.25
    server = await server_factory(stage_seconds=stage)
    client = await open_ready(server)
    try:
        async with LoopLag() as lag:
            sent = await client.send(Start(request_id="go"))
            await client.expect(State, lambda s: s.state is Phase.SUCCESS, since=sent)
        run = client.states(since=sent)
        assert [s.state for s in run] == [*RUNNING, Phase.SUCCESS]
        assert [s.seq for s in run] == [1, 2, 3, 4]
        times = [client.arrival(s) for s in run]
        for k, (state, received) in enumerate(zip(run, times, strict=True)):
            if k in (1, 2):  # the server's own measure of its lateness at the transition
                assert state.stage_elapsed <= lag.allowance(), (state, lag.worst)
            # and as a client sees it: on the grid t0 + k * stage, nothing accumulates; the
            # timer and the two reads it is compared with may each be as late as the loop was
            assert received - times[0] == pytest.approx(k * stage, abs=lag.allowance(stalls=3))
        assert run[-1].stage == 3
    finally:
        await client.close()


@dataclass
class Canceled:
    """A calculation canceled from one client in the stage the test asked for."""

    client: RawClient
    stage: float
    starting: State
    ack: Ack
    canceled: State


async def cancel_in(server: RunningServer, stage: float, stage_index: int) -> Canceled | None:
    """Start, wait for stage ``stage_index``, cancel; None if the cancel landed later."""
    client = await open_ready(server)
    sent = await client.send(Start(request_id="go"))
    starting = await client.expect(State, lambda s: s.state is Phase.STARTING, since=sent)
    target = RUNNING[stage_index]
    running = await client.expect(State, lambda s: s.state is target, since=sent)
    asked = await client.send(Cancel(request_id="stop", calculation_id=running.calculation_id))
    ack = await client.ack("stop", since=asked)
    if ack.accepted:
        canceled = await client.expect(State, lambda s: s.state is Phase.CANCELED, since=asked)
        if canceled.stage == stage_index:
            return Canceled(client, stage, starting, ack, canceled)
    await client.close()
    return None


@pytest.mark.parametrize("stage_index", [0, 1, 2])
async def test_cancel_in_each_running_stage_and_nothing_after(
    server_factory: ServerFactory, stage_index: int
) -> None:
    run = await with_longer_stages(
        server_factory, 0.2, lambda server, stage: cancel_in(server, stage, stage_index)
    )
    client, canceled = run.client, run.canceled
    try:
        assert canceled.ended_by == canceled.started_by  # the same client started and ended
        assert run.ack.seq == canceled.seq
        # once the time SUCCESS was due has passed, no state may follow CANCELED: a timer
        # still armed would have fired before this sync was even sent
        loop = asyncio.get_running_loop()
        success_due = client.arrival(run.starting) + 3 * run.stage
        await asyncio.sleep(max(success_due - loop.time(), 0))
        await synced(client)
        assert client.states()[-1] == canceled
    finally:
        await client.close()


@dataclass
class Joined:
    """A client that joined while the first client's calculation was IN_PROGRESS."""

    first: RawClient
    late: RawClient
    in_progress: State
    welcome: Welcome
    snapshot: State
    waited: float


JOIN_AFTER = 0.1
"""Seconds into IN_PROGRESS at which the late client connects."""


async def join_during_in_progress(server: RunningServer) -> Joined | None:
    """Join ``JOIN_AFTER`` into IN_PROGRESS; None if the snapshot was of a later stage."""
    first = await open_ready(server)
    sent = await first.send(Start(request_id="go"))
    in_progress = await first.expect(State, lambda s: s.state is Phase.IN_PROGRESS, since=sent)
    await asyncio.sleep(JOIN_AFTER)  # join a known time into the stage
    late = await RawClient.open(server.url)
    welcome = await late.expect(Welcome, since=0)
    snapshot = await late.expect(State, since=0)
    if snapshot.seq == in_progress.seq:
        waited = late.arrival(snapshot) - first.arrival(in_progress)
        return Joined(first, late, in_progress, welcome, snapshot, waited)
    await asyncio.gather(first.close(), late.close())
    return None


async def test_client_joining_mid_calculation_gets_current_stage(
    server_factory: ServerFactory,
) -> None:
    async with LoopLag() as lag:
        joined = await with_longer_stages(
            server_factory, 0.4, lambda server, _: join_during_in_progress(server)
        )
    try:
        in_progress, snap = joined.in_progress, joined.snapshot
        assert joined.welcome.clients == 2
        assert (snap.state, snap.calculation_id) == (Phase.IN_PROGRESS, in_progress.calculation_id)
        # the elapsed time is the server's: the time since the stage began, as the first
        # client measured it, give or take how late either of the two reads ran
        since_stage_began = joined.waited + in_progress.stage_elapsed
        assert snap.stage_elapsed == pytest.approx(since_stage_began, abs=lag.allowance(2))
        assert joined.waited >= JOIN_AFTER
        done = await joined.late.expect(State, lambda s: s.state is Phase.SUCCESS, since=0)
        assert done.seq == in_progress.seq + 2
    finally:
        await asyncio.gather(joined.first.close(), joined.late.close())


async def test_rejections_over_the_wire(server_factory: ServerFactory) -> None:
    server = await server_factory(stage_seconds=LONG_STAGE)
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
    server = await server_factory(stage_seconds=LONG_STAGE)
    client = await open_ready(server)
    try:
        sent = await client.send(Start(request_id="once"))
        first = await client.ack("once", since=sent)
        await client.expect(State, lambda s: s.state is Phase.STARTING, since=sent)
        sent = await client.send(Cancel(request_id="stop"))
        await client.ack("stop", since=sent)
        await client.expect(State, lambda s: s.state is Phase.CANCELED, since=sent)
        retried = await client.send(Start(request_id="once"))  # a retry of the old request
        second = await client.ack("once", since=retried)
        assert second == first
        await synced(client)
        assert client.states()[-1].state is Phase.CANCELED
        assert sum(s.state is Phase.STARTING for s in client.states()) == 1
    finally:
        await client.close()


async def test_two_clients_racing_start_make_exactly_one_calculation(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(stage_seconds=LONG_STAGE)
    a, b = await open_ready(server), await open_ready(server)
    try:
        sent = await asyncio.gather(a.send(Start(request_id="a")), b.send(Start(request_id="b")))
        acks = [await a.ack("a", since=sent[0]), await b.ack("b", since=sent[1])]
        assert sorted(ack.accepted for ack in acks) == [False, True]
        assert [ack.reason for ack in acks if not ack.accepted] == ["already_running"]
        calculations = set()
        for client in (a, b):
            await synced(client)  # its answer repeats the current state
            calculations |= {(s.seq, s.calculation_id) for s in client.states() if s.seq > 0}
        assert len(calculations) == 1
    finally:
        await a.close()
        await b.close()


@pytest.mark.parametrize("offset", [-0.004, -0.001, 0.0, 0.001, 0.004])
async def test_cancel_racing_the_final_transition_ends_in_one_terminal_state(
    server_factory: ServerFactory, offset: float
) -> None:
    """Wherever the cancel lands (a busy machine moves it), exactly one terminal state."""
    stage = 0.05
    server = await server_factory(stage_seconds=stage)
    client = await open_ready(server)
    try:
        sent = await client.send(Start(request_id="go"))
        await client.ack("go", since=sent)
        almost = await client.expect(State, lambda s: s.state is Phase.ALMOST_DONE, since=sent)
        await asyncio.sleep(max(stage - almost.stage_elapsed + offset, 0))
        raced = await client.send(Cancel(request_id="race"))
        ack = await client.ack("race", since=raced)
        terminal = await client.expect(State, lambda s: s.state.terminal, since=sent)
        await synced(client)
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
    original = Calculation.advance

    def broken(self: Calculation, now: float) -> list[State]:
        deadline = self.deadline()
        if deadline is not None and now >= deadline:  # the first transition, not the start
            raise RuntimeError("injected fault in the calculation")
        return original(self, now)

    monkeypatch.setattr(Calculation, "advance", broken)
    client = await open_ready(server)
    try:
        sent = await client.send(Start(request_id="go"))
        assert (await client.ack("go", since=sent)).accepted
        failed = await client.expect(State, lambda s: s.state is Phase.FAILED, since=sent)
        assert failed.ended_by == "server error"
        assert [s.state for s in client.states(since=sent)] == [Phase.STARTING, Phase.FAILED]
        monkeypatch.undo()
        assert server.app[SERVICE].calculation.deadline() is None  # nothing left armed
        again = await client.send(Start(request_id="again"))
        assert (await client.ack("again", since=again)).accepted
        await client.expect(State, lambda s: s.state is Phase.SUCCESS, since=again)
        assert not [m for m in client.messages if isinstance(m, Ack) and not m.accepted]
    finally:
        await client.close()
