"""Output on its way to the clients: coalesced and complete for a reader, budgeted, never in
front of a state."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace

from calc_server.frames import text_frame
from calc_server.jobs import OutputLine
from calc_server.jobs.buffer import KEPT_LINES
from calc_server.keys import HUB, SERVICE
from calc_server.output_feed import (
    BATCH_INTERVAL,
    BYTES_PER_SECOND,
    LINE_OVERHEAD,
    MIN_BATCH_BYTES,
    WRITES_PER_SECOND,
    batch_bytes,
    batch_interval,
    newest_within,
)
from calc_server.runner import start_server
from protocol import Cancel, Output, Phase, Start, State, encode
from protocol import OutputLine as WireLine
from tests.conftest import TEST_SETTINGS, ServerFactory
from tests.jobs.recorder import python
from tests.server.test_send_order import SMALL_BUFFER, RawClient, the_peer
from tests.wsclient import RawClient as WsClient

# --- the budget ---------------------------------------------------------------------------


def test_few_peers_get_a_batch_every_interval_and_many_peers_rarer_ones() -> None:
    assert batch_interval(1) == BATCH_INTERVAL
    assert batch_interval(WRITES_PER_SECOND // 10) == BATCH_INTERVAL
    thousand = batch_interval(1000)
    assert thousand > BATCH_INTERVAL
    assert 1000 / thousand <= WRITES_PER_SECOND  # frame writes a second, all peers together


def test_the_byte_budget_is_shared_by_the_peers_with_a_floor() -> None:
    interval = batch_interval(1000)
    assert batch_bytes(1000, interval) * 1000 / interval <= max(
        BYTES_PER_SECOND, MIN_BATCH_BYTES * 1000 / interval
    )
    assert batch_bytes(1, BATCH_INTERVAL) == int(BYTES_PER_SECOND * BATCH_INTERVAL)
    assert batch_bytes(100_000, batch_interval(100_000)) == MIN_BATCH_BYTES


def test_a_batch_over_its_budget_keeps_its_newest_lines() -> None:
    lines = [OutputLine("out", f"{i:08d}") for i in range(100)]
    each = 8 + LINE_OVERHEAD
    assert newest_within(lines, 100 * each) == 0
    assert newest_within(lines, 10 * each) == 90
    assert newest_within(lines, 10 * each + each - 1) == 90
    huge = [*lines, OutputLine("err", "x" * 10_000)]
    assert newest_within(huge, 100) == 100  # the newest line stays, whatever its size


# --- the hub ------------------------------------------------------------------------------


def output_frame(text: str) -> bytes:
    return text_frame(
        encode(Output(calculation_id="c", offset=0, lines=[WireLine(stream="out", text=text)]))
    )


async def test_output_skips_a_peer_with_bytes_unsent_and_the_next_state_comes_first() -> None:
    server = await start_server(
        replace(TEST_SETTINGS, send_buffer_limit=1 << 30, behind_timeout=60.0)
    )
    client = await RawClient.open(server)
    try:
        hub, service = server.app[HUB], server.app[SERVICE]
        peer = await the_peer(server, client)
        sock = peer.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)
        # the client reads nothing: a state bigger than both kernel buffers stays partly unsent
        service.start("a" * 100_000)
        pending = peer.transport.get_write_buffer_size()
        assert pending > 0
        skipped = hub.metrics.output_skipped
        hub.broadcast_output(output_frame("skipped"))
        assert peer.transport.get_write_buffer_size() == pending
        assert hub.metrics.output_skipped == skipped + 1
        service.cancel("b", None)
        canceled = encode(service.snapshot())
        await client.read_until(lambda frames: any(p == canceled for _, p in frames))
        payloads = [p for _, p in client.frames]
        assert not any(b'"skipped"' in p for p in payloads)
        # drained, the peer gets output again, straight away
        hub.broadcast_output(output_frame("delivered"))
        await client.read_until(lambda frames: any(b'"delivered"' in p for _, p in frames))
    finally:
        client.close()
        await server.stop()


# --- a real job -----------------------------------------------------------------------------


async def test_a_reading_client_gets_every_line_in_few_batches(
    server_factory: ServerFactory, raw_clients: list[WsClient]
) -> None:
    count = KEPT_LINES - 100  # within the budget's burst and what a batch keeps: no gap
    argv = python(f"for i in range({count}): print(f'line {{i}}')")
    server = await server_factory(job=tuple(argv))
    client = await WsClient.open_ready(server.url)
    raw_clients.append(client)
    await client.send(Start(request_id="go"))
    done = await client.expect(State, lambda s: s.state is Phase.SUCCESS, timeout=30, since=0)
    batches = [
        m
        for m in client.messages
        if isinstance(m, Output)
        and m.request_id is None
        and m.calculation_id == done.calculation_id
    ]
    assert {m.calculation_id for m in batches} == {done.calculation_id}
    seen = {m.offset + i: line.text for m in batches for i, line in enumerate(m.lines)}
    assert seen == {i: f"line {i}" for i in range(count)}
    assert len(batches) < count / 10  # coalesced: many lines a message


async def test_every_client_gets_each_state_while_a_job_floods(
    server_factory: ServerFactory, raw_clients: list[WsClient]
) -> None:
    server = await server_factory(job=("yes", "flood"), job_grace=1.0)
    clients = [await WsClient.open_ready(server.url) for _ in range(8)]
    raw_clients.extend(clients)
    await clients[0].send(Start(request_id="go"))
    running = await asyncio.gather(
        *(
            c.expect(State, lambda s: s.state is Phase.IN_PROGRESS, timeout=30, since=0)
            for c in clients
        )
    )
    # every client is being flooded before the next change
    await asyncio.gather(
        *(c.expect(Output, lambda o: o.request_id is None, timeout=30, since=0) for c in clients)
    )
    marks = [c.mark() for c in clients]
    await clients[-1].send(Cancel(request_id="stop"))
    ended = await asyncio.gather(
        *(
            c.expect(State, lambda s: s.state is Phase.CANCELED, timeout=30, since=mark)
            for c, mark in zip(clients, marks, strict=True)
        )
    )
    assert {s.calculation_id for s in ended} == {running[0].calculation_id}
    assert len({s.seq for s in ended}) == 1
