"""The subscriber hands on the exact stored bytes, in order, and resyncs instead of guessing."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis

from calc_server.cluster.epoch import ensure_epoch
from calc_server.cluster.keys import Keys
from calc_server.cluster.record import StateRecord, header
from calc_server.cluster.state import Change, SharedState
from calc_server.cluster.subscriber import Subscriber
from tests.cluster.conftest import OwnRedis
from tests.cluster.frames import state_frame
from tests.cluster.waiting import Deliveries, LinkEvents

BURST = 200


@asynccontextmanager
async def following(
    url: str, keys: Keys, state: SharedState, *, ping_interval: float = 1.0
) -> AsyncIterator[tuple[Subscriber, Deliveries, LinkEvents]]:
    """A running subscriber, linked before the block starts, stopped after it."""
    deliveries, links = Deliveries(), LinkEvents()
    subscriber = Subscriber(
        url,
        keys,
        state,
        on_change=deliveries.changed,
        on_link=links.changed,
        ping_interval=ping_interval,
        retry_delay=0.02,
        retry_cap=0.2,
    )
    task = asyncio.create_task(subscriber.run())
    try:
        await links.wait_for(True)
        yield subscriber, deliveries, links
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _advance(state: SharedState, epoch: str, frames: dict[int, bytes], seq: int) -> None:
    """Change the record from ``seq - 1`` (None: create) to ``seq``; remember the frame."""
    frames[seq] = state_frame(epoch, seq)
    expected = None if seq == 0 else seq - 1
    assert (await state.transition(Change(epoch, expected, seq, frames[seq]))).applied


async def test_every_change_arrives_once_in_order_with_the_exact_stored_bytes(
    redis_url: str, client: Redis, keys: Keys
) -> None:
    state = SharedState(client, keys)
    epoch = await ensure_epoch(client, keys)
    frames: dict[int, bytes] = {}
    await _advance(state, epoch, frames, 0)
    async with following(redis_url, keys, state) as (_, deliveries, _links):
        await deliveries.wait_until(lambda records: len(records) == 1)
        for seq in range(1, BURST + 1):
            await _advance(state, epoch, frames, seq)
        await deliveries.wait_until(lambda records: records[-1].seq == BURST)
    assert deliveries.records == [StateRecord(epoch, s, frames[s]) for s in range(BURST + 1)]


async def test_a_malformed_publish_on_the_channel_is_ignored(
    redis_url: str, client: Redis, keys: Keys
) -> None:
    state = SharedState(client, keys)
    epoch = await ensure_epoch(client, keys)
    frames: dict[int, bytes] = {}
    async with following(redis_url, keys, state) as (_, deliveries, _links):
        await client.publish(keys.channel, b"\xff\x00 garbage without a header")
        await client.publish(keys.channel, header(epoch, 7, 8) + b"not stored anywhere")
        await _advance(state, epoch, frames, 0)
        await deliveries.wait_until(lambda records: len(records) >= 1)
    assert deliveries.records == [StateRecord(epoch, 0, frames[0])]


async def test_a_missed_change_is_never_shown_the_stored_newer_one_is(
    redis_url: str, client: Redis, keys: Keys
) -> None:
    """Seq 1 is stored without being published (as if its message was lost); seq 2's message
    then follows a seq the subscriber never saw, so it reads the store instead."""
    state = SharedState(client, keys)
    epoch = await ensure_epoch(client, keys)
    frames: dict[int, bytes] = {}
    async with following(redis_url, keys, state) as (_, deliveries, _links):
        await _advance(state, epoch, frames, 0)
        await deliveries.wait_until(lambda records: len(records) == 1)
        frames[1] = state_frame(epoch, 1)
        await client.hset(keys.state, mapping={"seq": 1, "frame": frames[1]})
        await _advance(state, epoch, frames, 2)
        await deliveries.wait_until(lambda records: records[-1].seq == 2)
        await _advance(state, epoch, frames, 3)
        await deliveries.wait_until(lambda records: records[-1].seq == 3)
    assert deliveries.records == [StateRecord(epoch, s, frames[s]) for s in (0, 2, 3)]


async def test_after_a_dropped_connection_it_resyncs_to_the_latest_without_inventing(
    own_redis: OwnRedis, keys: Keys
) -> None:
    client = own_redis.client
    state = SharedState(client, keys)
    epoch = await ensure_epoch(client, keys)
    frames: dict[int, bytes] = {}
    async with following(own_redis.server.url, keys, state) as (subscriber, deliveries, links):
        await _advance(state, epoch, frames, 0)
        await deliveries.wait_until(lambda records: len(records) == 1)
        await client.client_kill_filter(_type="pubsub")
        for seq in range(1, 6):
            await _advance(state, epoch, frames, seq)
        await links.wait_for(False)
        await links.wait_for(True)
        await deliveries.wait_until(lambda records: records[-1].seq == 5)
        assert subscriber.linked
    seqs = [record.seq for record in deliveries.records]
    assert seqs == sorted(set(seqs))
    assert seqs[0] == 0
    assert seqs[-1] == 5
    assert all(
        record == StateRecord(epoch, record.seq, frames[record.seq])
        for record in deliveries.records
    )


async def test_redis_restarted_empty_unlinks_keeps_the_last_state_then_follows_the_new_epoch(
    own_redis: OwnRedis, keys: Keys
) -> None:
    server, client = own_redis.server, own_redis.client
    state = SharedState(client, keys)
    old_epoch = await ensure_epoch(client, keys)
    frames: dict[int, bytes] = {}
    async with following(server.url, keys, state) as (subscriber, deliveries, links):
        await _advance(state, old_epoch, frames, 0)
        await _advance(state, old_epoch, frames, 1)
        await deliveries.wait_until(lambda records: records[-1].seq == 1)

        server.stop()
        await links.wait_for(False)
        assert subscriber.last == StateRecord(old_epoch, 1, frames[1])
        server.start()
        await links.wait_for(True)
        assert subscriber.last == StateRecord(old_epoch, 1, frames[1]), "nothing invented"

        stale = await state.transition(Change(old_epoch, 1, 2, state_frame(old_epoch, 2)))
        assert not stale.applied, "the old epoch is gone with the dataset"
        new_epoch = await ensure_epoch(client, keys)
        assert new_epoch != old_epoch
        new_frames: dict[int, bytes] = {}
        await _advance(state, new_epoch, new_frames, 0)
        await deliveries.wait_until(lambda records: records[-1].epoch == new_epoch)
    assert deliveries.records == [
        StateRecord(old_epoch, 0, frames[0]),
        StateRecord(old_epoch, 1, frames[1]),
        StateRecord(new_epoch, 0, new_frames[0]),
    ]
    history = links.history
    assert history[0] is True
    assert history[-1] is False, "stopping unlinks"
    assert all(a is not b for a, b in itertools.pairwise(history)), "reports alternate"


async def test_a_redis_that_stops_answering_is_noticed_by_ping_and_followed_again_after(
    own_redis: OwnRedis, keys: Keys
) -> None:
    """SIGSTOP keeps the TCP connection open: only the subscriber's own PING can tell."""
    server, client = own_redis.server, own_redis.client
    state = SharedState(client, keys)
    epoch = await ensure_epoch(client, keys)
    frames: dict[int, bytes] = {}
    following_fast = following(server.url, keys, state, ping_interval=0.2)
    async with following_fast as (subscriber, deliveries, links):
        server.pause()
        try:
            await links.wait_for(False)
        finally:
            server.resume()
        await links.wait_for(True)
        await _advance(state, epoch, frames, 0)
        await deliveries.wait_until(lambda records: len(records) == 1)
        assert subscriber.linked
    assert deliveries.records == [StateRecord(epoch, 0, frames[0])]
