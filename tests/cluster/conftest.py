"""Fixtures for the cluster tests: a real Redis per session, a clean key prefix per test.

With ``REDIS_URL`` set the tests use that server instead, and touch only keys under their own
random prefix there; tests that stop, restart or protect a server always start their own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis.asyncio import Redis

from calc_server.cluster.keys import Keys
from calc_server.cluster.url import open_client
from tests.redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of the Redis shared by this session's tests: ``REDIS_URL`` or one we started."""
    external = os.environ.get("REDIS_URL")
    if external:
        yield external
        return
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_factory(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """Start private redis-servers (``password=`` optional) that a test may stop and restart."""
    servers: list[RedisServer] = []

    def make(*, password: str | None = None) -> RedisServer:
        server = RedisServer(tmp_path / f"redis-{len(servers)}", password=password)
        server.directory.mkdir()
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.stop()


@dataclass(frozen=True)
class OwnRedis:
    """A private redis-server (to stop and restart at will) and a client of it."""

    server: RedisServer
    client: Redis


@pytest.fixture
async def own_redis(redis_factory: Callable[..., RedisServer]) -> AsyncIterator[OwnRedis]:
    """A private redis-server and a client, closed at teardown."""
    server = redis_factory()
    client = open_client(server.url)
    yield OwnRedis(server, client)
    await client.aclose()


@pytest.fixture
def keys() -> Keys:
    """A key prefix no other test (or anything else on a shared Redis) uses."""
    return Keys(prefix=f"calc-test-{uuid.uuid4().hex[:12]}:")


@pytest.fixture
async def client(redis_url: str, keys: Keys) -> AsyncIterator[Redis]:
    """A client of the session's Redis; this test's keys are deleted at teardown."""
    redis = open_client(redis_url)
    yield redis
    stale = [key async for key in redis.scan_iter(match=f"{keys.prefix}*")]
    if stale:
        await redis.delete(*stale)
    await redis.aclose()
