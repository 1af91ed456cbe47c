"""The lease: one holder at a time, renewal only by the holder, expiry, takeover, fencing."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from calc_server.cluster.epoch import ensure_epoch
from calc_server.cluster.keys import Keys
from calc_server.cluster.lease import Grant, Lease
from calc_server.cluster.state import Change, Outcome, SharedState, Verdict
from tests.cluster.frames import state_frame
from tests.cluster.waiting import BOUND, poll

SHORT = 0.2
"""A lease time short enough that a test waits little for an expiry (never assumed to be
long enough for anything)."""


async def test_one_holder_at_a_time_and_only_the_holder_renews_or_releases(
    client: Redis, keys: Keys
) -> None:
    a = Lease(client, keys, node="node-a", ttl=60)
    b = Lease(client, keys, node="node-b", ttl=60)
    grant = await a.acquire()
    assert grant is not None
    assert await b.acquire() is None
    assert await a.acquire() is None, "holding is not acquiring again: renew instead"
    holder = await b.holder()
    assert holder is not None
    assert (holder.token, holder.node) == (grant.token, "node-a")
    assert 0 < holder.remaining <= 60

    forged = Grant(grant.token, "node-b")
    assert await b.renew(forged) is False
    assert await b.release(forged) is False
    assert await a.renew(grant) is True
    assert await a.release(grant) is True
    assert await a.renew(grant) is False
    assert await b.holder() is None


async def test_tokens_only_grow(client: Redis, keys: Keys) -> None:
    lease = Lease(client, keys, node="node-a", ttl=60)
    tokens = []
    for _ in range(5):
        grant = await lease.acquire()
        assert grant is not None
        tokens.append(grant.token)
        assert await lease.release(grant)
    assert tokens == sorted(set(tokens))


async def test_an_unrenewed_lease_expires_and_another_node_takes_it_over(
    client: Redis, keys: Keys
) -> None:
    a = Lease(client, keys, node="node-a", ttl=SHORT)
    b = Lease(client, keys, node="node-b", ttl=60)
    old = await a.acquire()
    assert old is not None
    async with asyncio.timeout(BOUND):
        new = await b.take_over(poll=0.05)
    assert new.node == "node-b"
    assert new.token > old.token
    assert await a.renew(old) is False, "an expired holder cannot win its lease back"


async def test_a_holder_paused_past_its_lease_can_change_nothing_when_it_wakes(
    client: Redis, keys: Keys
) -> None:
    """The paused node still believes it holds token ``old``; its writes carry it."""
    state = SharedState(client, keys)
    epoch = await ensure_epoch(client, keys)
    a = Lease(client, keys, node="node-a", ttl=SHORT)
    b = Lease(client, keys, node="node-b", ttl=60)
    old = await a.acquire()
    assert old is not None
    assert (
        await state.transition(Change(epoch, None, 0, state_frame(epoch, 0), old.token))
    ).applied

    async with asyncio.timeout(BOUND):
        new = await b.take_over(poll=0.05)
    stale = await state.transition(Change(epoch, 0, 1, state_frame(epoch, 1), fence=old.token))
    assert stale == Outcome(Verdict.STALE_FENCE, 0)
    assert (await state.transition(Change(epoch, 0, 1, state_frame(epoch, 1), new.token))).applied
    record = await state.read()
    assert record is not None
    assert record.seq == 1


async def test_keep_returns_once_the_lease_is_lost(client: Redis, keys: Keys) -> None:
    a = Lease(client, keys, node="node-a", ttl=0.3)
    grant = await a.acquire()
    assert grant is not None
    keeper = asyncio.create_task(a.keep(grant))
    await client.delete(keys.lease)  # as if it expired while the node was paused
    b = Lease(client, keys, node="node-b", ttl=60)
    await poll(lambda: _acquired(b))
    async with asyncio.timeout(BOUND):
        await keeper


async def _acquired(lease: Lease) -> bool:
    return await lease.acquire() is not None


async def test_a_lease_needs_a_node_id_and_a_positive_time(client: Redis, keys: Keys) -> None:
    with pytest.raises(ValueError, match="node"):
        Lease(client, keys, node="two words")
    with pytest.raises(ValueError, match="positive"):
        Lease(client, keys, node="n", ttl=0)
