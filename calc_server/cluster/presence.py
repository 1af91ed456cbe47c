"""Presence across the cluster: each node reports its own count, with an expiry; one sum.

A node that dies stops reporting, its count expires, and the total drops without anyone
having to notice the death.
"""

from __future__ import annotations

from redis.asyncio import Redis

from calc_server.cluster.keys import Keys

# KEYS: nodes set. ARGV: presence key prefix. Sums the live counts and forgets expired nodes.
_TOTAL = """
local total = 0
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local count = redis.call('GET', ARGV[1] .. node)
  if count then
    total = total + tonumber(count)
  else
    redis.call('SREM', KEYS[1], node)
  end
end
return total
"""


class PresenceBoard:
    """Per-node client counts: ``keys.presence(node)`` holds the count (PX ``ttl``),
    ``keys.nodes`` the set of node ids that reported.

    A node reports at least every ``ttl`` / 3 (and on every change) to stay counted.
    """

    def __init__(self, client: Redis, keys: Keys, *, ttl: float = 5.0) -> None:
        if ttl <= 0:
            raise ValueError("a presence expiry must be positive")
        self.ttl = ttl
        self._client = client
        self._keys = keys
        self._total = client.register_script(_TOTAL)

    async def report(self, node: str, count: int) -> None:
        """Record ``node``'s current count, valid for ``ttl``."""
        if count < 0:
            raise ValueError("a client count cannot be negative")
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.set(self._keys.presence(node), count, px=max(1, round(self.ttl * 1000)))
            pipe.sadd(self._keys.nodes, node)
            await pipe.execute()

    async def withdraw(self, node: str) -> None:
        """Remove ``node``'s count at once (a clean shutdown need not wait for the expiry)."""
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.delete(self._keys.presence(node))
            pipe.srem(self._keys.nodes, node)
            await pipe.execute()

    async def total(self) -> int:
        """The sum of every live node's count: one round trip."""
        total = await self._total(keys=[self._keys.nodes], args=[self._keys.presence_prefix])
        return int(total)
