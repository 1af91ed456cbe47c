"""``calc watch --reconnect``: the real command follows the calculation across server restarts."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from calc_client.cli_exit import CommandFailed
from calc_client.cli_follow import Follow, Note
from calc_client.reconnect import Connected, Disconnected, Received
from calc_server.runner import RunningServer
from protocol import PROTOCOL_VERSION, Hello, Phase, Start, State, Welcome, server_decoder
from tests.client.calc_process import CalcProcess
from tests.conftest import ServerFactory
from tests.wsclient import RawClient


@pytest.fixture
async def spawned() -> AsyncIterator[list[CalcProcess]]:
    """calc processes a test started; killed at teardown if still running."""
    started: list[CalcProcess] = []
    yield started
    for calc in started:
        await calc.kill()


async def run_one(server: RunningServer) -> State:
    """Start a calculation on ``server`` from a raw client; its STARTING state."""
    client = await RawClient.open_ready(server.url)
    try:
        await client.send(Hello(protocol=PROTOCOL_VERSION, client="tester"))
        mark = await client.send(Start(request_id="go"))
        assert (await client.ack("go", since=mark)).accepted
        return await client.expect(State, lambda s: s.state is Phase.STARTING, since=mark)
    finally:
        await client.close()


async def test_watch_reconnect_follows_a_restarted_server(
    server_factory: ServerFactory, spawned: list[CalcProcess]
) -> None:
    first = await server_factory(stage_seconds=10.0)
    calc = await CalcProcess.spawn("watch", "--reconnect", "--url", first.url, interruptible=True)
    spawned.append(calc)
    assert (await calc.line()).endswith("IDLE, no calculation has run yet")
    await first.stop()
    lost = await calc.line(timeout=10)
    assert "connection lost: server shutting down (code 1001); reconnecting" in lost
    second = await server_factory(port=first.port, stage_seconds=10.0)
    restarted = await calc.line_containing("reconnected", timeout=30)
    assert "the server restarted (epoch" in restarted
    # the new server's states count from the start again, and are printed
    assert (await calc.line(timeout=10)).endswith("IDLE, no calculation has run yet")
    started = await run_one(second)
    line = await calc.line(timeout=10)
    assert "STARTING" in line
    assert f"calculation {started.calculation_id}" in line
    calc.interrupt()
    assert (await calc.finish()).code == 130


async def test_watch_reconnect_json_keeps_stdout_protocol_only(
    server_factory: ServerFactory, spawned: list[CalcProcess]
) -> None:
    first = await server_factory(stage_seconds=10.0)
    calc = await CalcProcess.spawn(
        "watch", "--reconnect", "--json", "--url", first.url, interruptible=True
    )
    spawned.append(calc)
    before = server_decoder.decode(await calc.line())
    assert isinstance(before, State)
    await first.stop()
    second = await server_factory(port=first.port, stage_seconds=10.0)
    after = server_decoder.decode(await calc.line(timeout=30))
    assert isinstance(after, State)
    assert (after.state, after.seq) == (Phase.IDLE, before.seq)  # a fresh server, printed
    await run_one(second)
    starting = server_decoder.decode(await calc.line(timeout=10))
    assert isinstance(starting, State)
    assert starting.state is Phase.STARTING
    calc.interrupt()
    result = await calc.finish()
    assert result.code == 130
    notes = result.stderr.splitlines()
    assert any("connection lost" in note for note in notes), notes
    assert any("the server restarted" in note for note in notes), notes
    assert all(note.startswith("calc: ") for note in notes)


async def test_watch_reconnect_still_ends_on_a_final_refusal(server: RunningServer) -> None:
    url = server.url.removesuffix("/ws") + "/nope"
    calc = await CalcProcess.spawn("watch", "--reconnect", "--url", url)
    try:
        result = await calc.finish()
    finally:
        await calc.kill()
    assert result.code == 2
    assert result.stderr == f"calc: cannot connect to {url}: nothing at /nope (HTTP 404); " + (
        "the path is /ws\n"
    )


def welcome(epoch: str) -> Connected:
    """The reconnector's event for a welcome from the server with ``epoch``."""
    return Connected(Welcome(protocol=1, server="x", epoch=epoch, client_id="c1", clients=1))


def state(seq: int) -> Received:
    """The reconnector's event for an IDLE state numbered ``seq``."""
    return Received(
        State(
            seq=seq,
            epoch="a",
            calculation_id=None,
            state=Phase.IDLE,
            stage=0,
            stages=3,
            stage_elapsed=0.0,
            stage_duration=2.0,
        )
    )


def test_a_reconnection_to_the_same_server_prints_each_state_once() -> None:
    follow = Follow("ws://h/ws")
    assert follow.on(welcome("a")) is None
    assert isinstance(follow.on(state(4)), State)
    lost = follow.on(Disconnected("no close handshake (code 1006)", 1, 0.5))
    assert lost == Note(
        "connection lost: no close handshake (code 1006); reconnecting (next try in 0.5s)"
    )
    refused = follow.on(Disconnected("cannot connect: Connection refused", 2, 1.0))
    assert refused == Note("cannot connect: Connection refused; reconnecting (next try in 1.0s)")
    assert follow.on(Disconnected("cannot connect: Connection refused", 3, 2.0)) is None
    assert follow.on(welcome("a")) == Note("reconnected")
    assert follow.on(state(4)) is None  # seen before the loss
    assert isinstance(follow.on(state(5)), State)


def test_a_final_refusal_ends_following() -> None:
    follow = Follow("ws://h/ws")
    follow.on(welcome("a"))
    with pytest.raises(CommandFailed, match="connection lost: authentication failed"):
        follow.on(Disconnected("authentication failed", 1, None))
