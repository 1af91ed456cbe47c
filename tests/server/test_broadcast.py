"""Fan-out: everyone sees the same sequence, a stalled peer delays no one, silent peers go."""

from __future__ import annotations

import asyncio
import socket

import pytest

import calc_server.service
from calc_server.hub import Hub, Peer
from calc_server.keys import HUB, SERVICE
from calc_server.runner import RunningServer
from protocol import Phase, Presence, Start, State, encode
from tests.conftest import ServerFactory, both_presence_delays
from tests.looplag import LoopLag
from tests.rawsocket import SilentPeer
from tests.stuck import hub_peer, push_behind
from tests.wsclient import RawClient

pytestmark = both_presence_delays
"""Each test against a server with the presence delay and one without."""


async def open_ready(server: RunningServer) -> RawClient:
    return await RawClient.open_ready(server.url)


async def run_to_success(clients: list[RawClient]) -> None:
    """Start a calculation from the first client; wait until every client has its SUCCESS."""
    marks = [c.mark() for c in clients]
    await clients[0].send(Start(request_id="go"))
    await asyncio.gather(
        *(
            c.expect(State, lambda s: s.state is Phase.SUCCESS, since=mark)
            for c, mark in zip(clients, marks, strict=True)
        )
    )


async def test_twenty_clients_see_identical_sequence(server: RunningServer) -> None:
    clients = [await open_ready(server) for _ in range(20)]
    try:
        await run_to_success(clients)
        sequences = [[(s.seq, s.state) for s in c.states() if s.seq > 0] for c in clients]
        assert sequences[0] == [
            (1, Phase.STARTING),
            (2, Phase.IN_PROGRESS),
            (3, Phase.ALMOST_DONE),
            (4, Phase.SUCCESS),
        ]
        assert all(seq == sequences[0] for seq in sequences)
    finally:
        await asyncio.gather(*(c.close() for c in clients))


async def test_each_state_change_is_encoded_once_whatever_the_client_count(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded: list[bytes] = []

    def counting_encode(message: State) -> bytes:
        data = encode(message)
        encoded.append(data)
        return data

    monkeypatch.setattr(calc_server.service, "encode", counting_encode)
    clients = [await open_ready(server) for _ in range(10)]
    try:
        await run_to_success(clients)
        assert len(encoded) == 4  # STARTING, IN_PROGRESS, ALMOST_DONE, SUCCESS
        assert server.app[HUB].metrics.encodes == 4
    finally:
        await asyncio.gather(*(c.close() for c in clients))


async def test_presence_counts_connects_and_leaves(server: RunningServer) -> None:
    watcher = await open_ready(server)
    try:
        before = watcher.mark()
        others = [await open_ready(server) for _ in range(3)]
        await watcher.expect(Presence, lambda p: p.clients == 4, since=before)
        leaving = watcher.mark()
        await asyncio.gather(*(c.close() for c in others))
        await watcher.expect(Presence, lambda p: p.clients == 1, since=leaving)
        assert len(server.app[HUB]) == 1
    finally:
        await watcher.close()


async def open_silent(server: RunningServer, watcher: RawClient) -> tuple[SilentPeer, Peer]:
    """A never-reading peer and its ``Peer`` in the hub, once ``watcher`` is told it joined."""
    before = watcher.mark()
    clients = len(server.app[HUB]) + 1
    silent = await SilentPeer.open(server.host, server.port)
    await watcher.expect(Presence, lambda p: p.clients == clients, since=before)
    return silent, hub_peer(server, silent)


async def stall(server: RunningServer, watcher: RawClient) -> tuple[SilentPeer, Hub]:
    """A peer that never reads, pushed past the send limit by real state changes."""
    silent, peer = await open_silent(server, watcher)
    await push_behind(server, peer)
    return silent, server.app[HUB]


async def test_never_reading_client_is_skipped_without_delaying_others(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(send_buffer_limit=16 * 1024, behind_timeout=30.0)
    reader = await open_ready(server)
    try:
        changes = reader.mark()
        silent, hub = await stall(server, reader)
        behind = [p for p in hub.peers if p.behind_since is not None]
        assert len(behind) == 1
        last = server.app[SERVICE].snapshot().seq
        # the reading client got every change, in order, while the other one was stuck
        await reader.expect(State, lambda s: s.seq == last, since=changes)
        seqs = [s.seq for s in reader.states()]
        assert seqs == list(range(seqs[0], last + 1))
        # more changes, with no await in between: the stalled peer's buffer does not grow
        service = server.app[SERVICE]
        buffered = behind[0].transport.get_write_buffer_size()
        for i in range(50):
            service.start(f"more{i}")
            service.cancel(f"more{i}", None)
        assert behind[0].transport.get_write_buffer_size() == buffered
        await reader.expect(State, lambda s: s.seq == service.snapshot().seq, since=changes)
        # once it reads again it catches up with the latest snapshot
        final = encode(service.snapshot())
        data = await silent.drain_all(until=final, timeout=10)
        assert final in data
        silent.close()
    finally:
        await reader.close()


async def test_peer_that_never_drains_is_cut_off(server_factory: ServerFactory) -> None:
    behind_timeout = 0.3
    server = await server_factory(send_buffer_limit=16 * 1024, behind_timeout=behind_timeout)
    watcher = await open_ready(server)
    try:
        silent, hub = await stall(server, watcher)
        [peer] = [p for p in hub.peers if p.behind_since is not None]
        behind_since = peer.behind_since
        assert behind_since is not None
        gone = watcher.mark()
        left = await watcher.expect(Presence, lambda p: p.clients == 1, since=gone)
        assert len(hub) == 1
        assert hub.metrics.peers_cut_off == 1
        # never before its time (the presence follows the cut-off)
        assert watcher.arrival(left) - behind_since >= behind_timeout
        silent.close()
    finally:
        await watcher.close()


async def test_heartbeat_drops_silent_peer_within_two_intervals(
    server_factory: ServerFactory,
) -> None:
    heartbeat = 0.3
    server = await server_factory(heartbeat=heartbeat)
    watcher = await open_ready(server)  # aiohttp answers pings for this one
    try:
        async with LoopLag() as lag:
            silent, _ = await open_silent(server, watcher)
            joined = asyncio.get_running_loop().time()
            dropped = await watcher.expect(Presence, lambda p: p.clients == 1, since=watcher.mark())
        # a ping at most one interval after the last frame, then one interval for the pong;
        # each of the two timers, and the presence, may run as late as the loop did
        silence = watcher.arrival(dropped) - joined
        early, late = heartbeat - lag.allowance(), 2 * heartbeat + lag.allowance(stalls=3)
        assert early <= silence <= late, (silence, lag.worst)
        assert len(server.app[HUB]) == 1
        silent.close()
    finally:
        await watcher.close()


async def test_peer_that_asks_but_never_reads_is_cut_off_too(server_factory: ServerFactory) -> None:
    server = await server_factory(
        send_buffer_limit=2048, behind_timeout=0.3, rate_burst=1000, rate_per_second=1000.0
    )
    watcher = await open_ready(server)
    try:
        asker, peer = await open_silent(server, watcher)
        hub = server.app[HUB]
        sock = peer.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        gone = watcher.mark()
        for i in range(600):  # bounded; its replies pile up since it never reads them
            asker.send_text(b'{"type":"sync","request_id":"s%d"}' % i)
            await asker.writer.drain()
            await asyncio.sleep(0)  # let the server answer each one, as a live peer's would be
        await watcher.expect(Presence, lambda p: p.clients == 1, since=gone)
        assert hub.metrics.peers_cut_off == 1
        assert hub.metrics.peers_skipped > 0  # replies dropped while it was behind
        asker.close()
    finally:
        await watcher.close()
