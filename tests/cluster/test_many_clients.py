"""A thousand clients spread over three nodes all receive every state, in order."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from protocol import Cancel, Phase, Start, State
from tests.cluster.nodes import cluster_of
from tests.cluster.test_nodes import BOUND, NODES
from tests.reliability.swarm import close_all, contiguous, open_many, raise_fd_limit

CLIENTS = 1000


@pytest.mark.timeout(300)  # a thousand handshakes on a busy two-core machine
async def test_a_thousand_clients_over_three_nodes_see_every_state_in_order(
    redis_url: str,
) -> None:
    raise_fd_limit(4 * CLIENTS + 256)
    async with cluster_of(redis_url, stage_seconds=0.5) as cluster:
        await asyncio.gather(*(cluster.node(name) for name in NODES))
        driver = await cluster.client("a")
        await driver.expect(State, since=0, timeout=BOUND)
        connector = aiohttp.TCPConnector(limit=0, force_close=True)
        async with aiohttp.ClientSession(connector=connector, headers=cluster.headers) as session:
            share = [CLIENTS // 3 + (i < CLIENTS % 3) for i in range(3)]
            groups = await asyncio.gather(
                *(
                    open_many(session, cluster.nodes[name].url, count, at_once=50)
                    for name, count in zip(NODES, share, strict=True)
                )
            )
            watchers = [w for group in groups for w in group]
            try:
                sent = await driver.send(Start(request_id="full"))
                assert (await driver.ack("full", since=sent, timeout=BOUND)).accepted
                await driver.expect(
                    State, lambda s: s.state is Phase.SUCCESS, since=sent, timeout=BOUND
                )
                sent = await driver.send(Start(request_id="short"))
                assert (await driver.ack("short", since=sent, timeout=BOUND)).accepted
                sent = await driver.send(Cancel(request_id="stop"))
                assert (await driver.ack("stop", since=sent, timeout=BOUND)).accepted
                final = await driver.expect(
                    State, lambda s: s.state is Phase.CANCELED, since=sent, timeout=BOUND
                )
                await asyncio.gather(*(w.until_seq(final.seq, timeout=60) for w in watchers))
            finally:
                await close_all(watchers)

    history = [(s.seq, s.state) for s in driver.states() if s.seq > 0]
    assert contiguous(history)
    assert [state for _, state in history] == [
        *(Phase.STARTING, Phase.IN_PROGRESS, Phase.ALMOST_DONE, Phase.SUCCESS),
        *(Phase.STARTING, Phase.CANCELED),
    ]
    assert len(watchers) == CLIENTS
    differing = [w for w in watchers if [p for p in w.pairs() if p[0] > 0] != history]
    assert not differing, f"{len(differing)} clients saw another sequence"
    assert all(not w.undecodable for w in watchers)
