"""Real ``calc-server --redis`` processes forming one cluster, and clients for them."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from calc_server.cluster.node import cluster_keys
from calc_server.cluster.record import StateRecord
from calc_server.cluster.state import SharedState
from calc_server.cluster.url import open_client
from tests.processes import ServerProcess
from tests.wsclient import RawClient

READY = 60.0
"""Seconds a node may take to join (generous: a busy two-core machine)."""


class Cluster:
    """Nodes sharing one Redis and one token (so one cluster); stopped at the end of the test."""

    def __init__(self, redis_url: str, *, stage_seconds: float, lease_seconds: float = 3.0):
        self.redis_url = redis_url
        self.token = secrets.token_urlsafe(16)
        self.stage_seconds = stage_seconds
        self.lease_seconds = lease_seconds
        self.nodes: dict[str, ServerProcess] = {}
        self._clients: list[RawClient] = []

    @property
    def headers(self) -> dict[str, str]:
        """The handshake header every client of this cluster sends."""
        return {"Authorization": f"Bearer {self.token}"}

    async def node(self, name: str, *args: str, port: int = 0) -> ServerProcess:
        """Start node ``name`` and wait until it listens (it has joined the cluster by then)."""
        process = await ServerProcess.start(
            "--redis",
            self.redis_url,
            "--node",
            name,
            "--stage-seconds",
            str(self.stage_seconds),
            "--lease-seconds",
            str(self.lease_seconds),
            *args,
            port=port,
            auth=self.token,
            ready_timeout=READY,
        )
        self.nodes[name] = process
        return process

    async def client(self, name: str, **kwargs: Any) -> RawClient:
        """A connected client of node ``name`` (wait for its greeting with ``since=0``)."""
        client = await RawClient.open(self.nodes[name].url, headers=self.headers, **kwargs)
        self._clients.append(client)
        return client

    async def stored(self) -> StateRecord | None:
        """The state record this cluster keeps in Redis (what a client may not have seen)."""
        redis = open_client(self.redis_url)
        try:
            return await SharedState(redis, cluster_keys(self.token)).read()
        finally:
            await redis.aclose()

    async def stop(self) -> None:
        """Close every client and kill every node still running."""
        await asyncio.gather(*(c.close() for c in self._clients), return_exceptions=True)
        await asyncio.gather(*(n.stop() for n in self.nodes.values()), return_exceptions=True)


@asynccontextmanager
async def cluster_of(redis_url: str, **kwargs: Any) -> AsyncIterator[Cluster]:
    """A Cluster that is stopped however the test ends."""
    cluster = Cluster(redis_url, **kwargs)
    try:
        yield cluster
    finally:
        await cluster.stop()
