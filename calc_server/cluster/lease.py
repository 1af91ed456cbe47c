"""The run owner's lease, with a fencing token that only ever grows.

Whoever holds the lease drives the run's timers. The lease expires by itself (PX) when its
holder stops renewing; another node may then take it and gets a larger token. The transition
script refuses a change carrying any token but the current one, so a holder that was paused past
its lease (SIGSTOP, a long GC, a network stall) can change nothing when it wakes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from calc_server.cluster.keys import Keys
from calc_server.cluster.replies import as_text

log = logging.getLogger(__name__)

# KEYS: lease, fence counter. ARGV: node, ttl ms. Replies {token, node, ttl ms}: token 0 when
# the lease is held (then node and ttl are the holder's).
_ACQUIRE = """
local held = redis.call('GET', KEYS[1])
if held then
  return {0, held, redis.call('PTTL', KEYS[1])}
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token .. ' ' .. ARGV[1], 'PX', ARGV[2])
return {token, ARGV[1], tonumber(ARGV[2])}
"""

# KEYS: lease. ARGV: the holder's value, ttl ms. Replies 1 when renewed, 0 when not ours.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# KEYS: lease. ARGV: the holder's value. Replies 1 when released, 0 when not ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


@dataclass(frozen=True, slots=True)
class Grant:
    """A lease this node acquired: its fencing token, valid until it is not renewed."""

    token: int
    node: str

    @property
    def value(self) -> str:
        """What the lease key holds while this grant is current."""
        return f"{self.token} {self.node}"


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds the lease now, and for how much longer unless renewed (seconds)."""

    token: int
    node: str
    remaining: float


class Lease:
    """The lease at ``keys.lease`` (``"<token> <node>"``, PX ``ttl``), tokens from ``keys.fence``.

    ``ttl`` is the time a dead holder keeps the lease: the failover bound.
    """

    def __init__(self, client: Redis, keys: Keys, *, node: str, ttl: float = 3.0) -> None:
        if not node or " " in node:
            raise ValueError("a node id is a non-empty string without spaces")
        if ttl <= 0:
            raise ValueError("a lease time must be positive")
        self.node = node
        self.ttl = ttl
        self._client = client
        self._keys = keys
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    @property
    def _ttl_ms(self) -> int:
        return max(1, round(self.ttl * 1000))

    async def acquire(self) -> Grant | None:
        """Take the lease if nobody holds it (never held, released or expired), else None.

        SET PX and INCR of the fencing counter in one script: a grant always has a token larger
        than every earlier one.
        """
        token, _, _ = await self._acquire(
            keys=[self._keys.lease, self._keys.fence], args=[self.node, self._ttl_ms]
        )
        if not token:
            return None
        log.info("lease acquired by %s with token %d", self.node, token)
        return Grant(int(token), self.node)

    async def renew(self, grant: Grant) -> bool:
        """Extend the lease by ``ttl`` if ``grant`` still holds it; False when it was lost."""
        renewed = await self._renew(keys=[self._keys.lease], args=[grant.value, self._ttl_ms])
        return bool(renewed)

    async def release(self, grant: Grant) -> bool:
        """Give the lease up at once if ``grant`` still holds it (so a successor need not wait)."""
        released = await self._release(keys=[self._keys.lease], args=[grant.value])
        return bool(released)

    async def holder(self) -> Holder | None:
        """The current holder, or None when the lease is free."""
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.get(self._keys.lease)
            pipe.pttl(self._keys.lease)
            value, pttl = await pipe.execute()
        if value is None:
            return None
        token, _, node = as_text(value).partition(" ")
        return Holder(int(token), node, max(0, pttl) / 1000)

    async def take_over(self, *, poll: float = 0.5) -> Grant:
        """Wait until the lease is free, then take it; returns the new grant.

        Sleeps for the holder's remaining time (at most ``poll``) between tries, so the takeover
        comes within ``poll`` of the expiry.
        """
        while True:
            grant = await self.acquire()
            if grant is not None:
                return grant
            holder = await self.holder()
            await asyncio.sleep(poll if holder is None else min(poll, holder.remaining) or 0.001)

    async def keep(self, grant: Grant) -> None:
        """Renew ``grant`` every third of ``ttl``; return once it is lost.

        Lost means Redis said it is no longer ours, or Redis was unreachable until the lease
        must have expired (the holder cannot know otherwise, so it assumes the worst).
        """
        interval = self.ttl / 3
        valid_until = time.monotonic() + self.ttl
        while True:
            await asyncio.sleep(interval)
            try:
                renewed_at = time.monotonic()
                if not await self.renew(grant):
                    log.warning("lease token %d of %s was lost", grant.token, self.node)
                    return
                valid_until = renewed_at + self.ttl
            except (RedisConnectionError, RedisTimeoutError) as error:
                if time.monotonic() >= valid_until:
                    log.warning("lease token %d expired while Redis was unreachable", grant.token)
                    return
                log.info("lease renewal failed, retrying: %s", type(error).__name__)
