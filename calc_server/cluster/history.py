"""A capped list of encoded entries in Redis, newest first, shared by every node."""

from __future__ import annotations

from redis.asyncio import Redis

from calc_server.cluster.keys import Keys
from calc_server.cluster.replies import as_bytes


class SharedHistory:
    """``keys.history``: a Redis list of encoded entries (bytes), newest first, at most ``cap``."""

    def __init__(self, client: Redis, keys: Keys, *, cap: int = 100) -> None:
        if cap < 1:
            raise ValueError("a history cap must be at least 1")
        self.cap = cap
        self._client = client
        self._keys = keys

    async def push(self, entry: bytes) -> None:
        """Add ``entry`` as the newest and drop what falls past the cap (LPUSH + LTRIM, atomic)."""
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.lpush(self._keys.history, entry)
            pipe.ltrim(self._keys.history, 0, self.cap - 1)
            await pipe.execute()

    async def recent(self, limit: int | None = None) -> list[bytes]:
        """Up to ``limit`` (default: the cap) entries, newest first, as stored."""
        count = self.cap if limit is None else min(limit, self.cap)
        if count < 1:
            return []
        entries = await self._client.lrange(self._keys.history, 0, count - 1)
        return [as_bytes(entry) for entry in entries]
