"""Epoch per dataset, and presence summed across nodes with expiry."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from calc_server.cluster.epoch import ensure_epoch, read_epoch
from calc_server.cluster.keys import Keys
from calc_server.cluster.presence import PresenceBoard
from calc_server.cluster.url import open_client
from tests.cluster.conftest import OwnRedis
from tests.cluster.waiting import poll


async def test_every_node_racing_to_create_the_epoch_gets_the_same_one(
    redis_url: str, client: Redis, keys: Keys
) -> None:
    assert await read_epoch(client, keys) is None
    nodes = [open_client(redis_url) for _ in range(10)]
    try:
        epochs = await asyncio.gather(
            *(ensure_epoch(node, keys, f"candidate-{i}") for i, node in enumerate(nodes))
        )
    finally:
        await asyncio.gather(*(node.aclose() for node in nodes))
    assert len(set(epochs)) == 1
    assert epochs[0].startswith("candidate-")
    assert await read_epoch(client, keys) == epochs[0]


async def test_redis_restarted_empty_gets_a_new_epoch(own_redis: OwnRedis, keys: Keys) -> None:
    first = await ensure_epoch(own_redis.client, keys)
    assert await ensure_epoch(own_redis.client, keys) == first
    own_redis.server.restart()
    assert await read_epoch(own_redis.client, keys) is None
    second = await ensure_epoch(own_redis.client, keys)
    assert second != first


async def test_presence_is_the_sum_of_the_live_nodes_counts(client: Redis, keys: Keys) -> None:
    board = PresenceBoard(client, keys, ttl=60)
    assert await board.total() == 0
    await board.report("node-a", 3)
    await board.report("node-b", 4)
    await board.report("node-a", 5)
    assert await board.total() == 9
    await board.withdraw("node-a")
    assert await board.total() == 4


async def test_a_node_that_stops_reporting_drops_out_of_the_total(
    client: Redis, keys: Keys
) -> None:
    await PresenceBoard(client, keys, ttl=60).report("node-a", 3)
    await PresenceBoard(client, keys, ttl=0.1).report("node-dead", 1000)
    board = PresenceBoard(client, keys)

    async def dead_forgotten() -> bool:
        return await board.total() == 3

    await poll(dead_forgotten)
    assert await client.smembers(keys.nodes) == {b"node-a"}
