"""``calc-server --workers 2``: two server processes share one port and one calculation."""

from __future__ import annotations

import asyncio
import re
import signal

from protocol import Phase, Start, State, Welcome
from tests.cluster.nodes import cluster_of
from tests.cluster.test_nodes import BOUND, sees
from tests.cluster.waiting import poll

CLIENTS = 24
"""Enough connections that the kernel hands some to each worker (all to one: 2^-23)."""


async def test_two_workers_serve_one_port_as_one_calculation(redis_url: str) -> None:
    async with cluster_of(redis_url, stage_seconds=0.5) as cluster:
        parent = await cluster.node("w", "--workers", "2")
        await poll(lambda: _listening(parent.log, 2))
        ports = {
            int(m) for m in re.findall(r"listening on ws://[^:]+:(\d+)/ws", "".join(parent.log))
        }
        clients = [await cluster.client("w") for _ in range(CLIENTS)]
        welcomes = [await c.expect(Welcome, since=0, timeout=BOUND) for c in clients]
        for client in clients:
            await client.expect(State, since=0, timeout=BOUND)
        sent = await clients[0].send(Start(request_id="go"))
        assert (await clients[0].ack("go", since=sent, timeout=BOUND)).accepted
        done = await clients[0].expect(
            State, lambda s: s.state is Phase.SUCCESS, since=sent, timeout=BOUND
        )
        for client in clients:
            await sees(client, done.seq)
        parent.signal(signal.SIGTERM)
        code = await parent.wait(timeout=BOUND)

    assert ports == {parent.port}
    assert {w.node for w in welcomes} == {"w-1", "w-2"}
    assert len({w.epoch for w in welcomes}) == 1
    seen = [[(s.seq, s.state) for s in c.states()] for c in clients]
    assert all(history == seen[0] for history in seen)
    assert code == 0


async def _listening(log: list[str], count: int) -> bool:
    await asyncio.sleep(0)
    return sum("listening on" in line for line in log) >= count
