"""Redis unavailable: nodes keep their clients and the last state, say the cluster is degraded,
refuse commands; when Redis comes back empty the cluster begins a new epoch."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import WSCloseCode

from protocol import AckReason, Cancel, ClusterStatus, Phase, Start, State, Welcome
from tests.cluster.nodes import cluster_of
from tests.cluster.test_nodes import BOUND
from tests.redis_server import RedisServer


async def test_nodes_degrade_while_redis_is_down_and_resync_when_it_returns_empty(
    redis_factory: Callable[..., RedisServer],
) -> None:
    redis = redis_factory()
    async with cluster_of(redis.url, stage_seconds=60.0) as cluster:
        await asyncio.gather(cluster.node("a"), cluster.node("b"))
        a, b = await cluster.client("a"), await cluster.client("b")
        for client in (a, b):
            await client.expect(State, since=0, timeout=BOUND)
        watched = b.mark()
        sent = await a.send(Start(request_id="go"))
        assert (await a.ack("go", since=sent, timeout=BOUND)).accepted
        started = await b.expect(
            State, lambda s: s.state is Phase.STARTING, since=watched, timeout=BOUND
        )

        marks = [client.mark() for client in (a, b)]
        await asyncio.to_thread(redis.stop)
        for client, mark in zip((a, b), marks, strict=True):
            await client.expect(ClusterStatus, lambda m: m.degraded, since=mark, timeout=BOUND)
        sent = await b.send(Cancel(request_id="stop"))
        refused = await b.ack("stop", since=sent, timeout=BOUND)
        # a client joining a degraded node gets the last state and the same warning
        late = await cluster.client("b")
        await late.expect(State, lambda s: s.seq == started.seq, since=0, timeout=BOUND)
        await late.expect(ClusterStatus, lambda m: m.degraded, since=0, timeout=BOUND)
        shown_while_down = [_key(client.states()[-1]) for client in (a, b, late)]

        await asyncio.to_thread(redis.start)  # same port, no data: a new epoch
        codes = [await client.wait_closed(timeout=BOUND) for client in (a, b, late)]
        again = await cluster.client("b")
        welcome = await again.expect(Welcome, since=0, timeout=BOUND)
        fresh = await again.expect(State, since=0, timeout=BOUND)
        sent = await again.send(Start(request_id="again"))
        accepted = (await again.ack("again", since=sent, timeout=BOUND)).accepted

    assert (refused.accepted, refused.reason) == (False, AckReason.BACKPLANE_UNAVAILABLE)
    assert refused.seq == started.seq
    assert shown_while_down == [_key(started)] * 3
    assert codes == [WSCloseCode.SERVICE_RESTART] * 3
    # nothing invented: before the close each client saw IDLE and the start, nothing else
    assert [(s.seq, s.state) for s in a.states()] == [(0, Phase.IDLE), (1, Phase.STARTING)]
    assert [(s.seq, s.state) for s in b.states()] == [(0, Phase.IDLE), (1, Phase.STARTING)]
    assert welcome.epoch != started.epoch
    assert (fresh.epoch, fresh.seq, fresh.state) == (welcome.epoch, 0, Phase.IDLE)
    assert accepted


def _key(state: State) -> tuple[str, int, str | None, Phase]:
    """What identifies a state (its elapsed time aside, which a joiner sees carried forward)."""
    return state.epoch, state.seq, state.calculation_id, state.state


async def test_a_frozen_redis_degrades_the_cluster_and_its_return_heals_it_in_the_same_epoch(
    redis_factory: Callable[..., RedisServer],
) -> None:
    redis = redis_factory()
    async with cluster_of(redis.url, stage_seconds=60.0) as cluster:
        await asyncio.gather(cluster.node("a"), cluster.node("b"))
        a, b = await cluster.client("a"), await cluster.client("b")
        shown = [await client.expect(State, since=0, timeout=BOUND) for client in (a, b)]
        marks = [client.mark() for client in (a, b)]
        redis.pause()  # SIGSTOP: connections stay open, nothing answers, the data is kept
        try:
            for client, mark in zip((a, b), marks, strict=True):
                await client.expect(ClusterStatus, lambda m: m.degraded, since=mark, timeout=BOUND)
        finally:
            marks = [client.mark() for client in (a, b)]  # healing needs Redis back
            redis.resume()
        for client, mark in zip((a, b), marks, strict=True):
            await client.expect(ClusterStatus, lambda m: not m.degraded, since=mark, timeout=BOUND)
        watched = a.mark()
        sent = await b.send(Start(request_id="go"))
        go = await b.ack("go", since=sent, timeout=BOUND)
        started = await a.expect(
            State, lambda s: s.state is Phase.STARTING, since=watched, timeout=BOUND
        )
        stayed = not a.closed.is_set() and not b.closed.is_set()

    assert stayed
    assert go.accepted
    assert started.epoch == shown[0].epoch
    assert (started.seq, go.seq) == (1, 1)
