"""The epoch: one id per Redis dataset, created by whichever node asks first.

Redis restarted empty has no epoch, so the next ``ensure_epoch`` makes a new one: clients see
the epoch change and resync, as after a single server's restart.
"""

from __future__ import annotations

import secrets

from redis.asyncio import Redis

from calc_server.cluster.keys import Keys
from calc_server.cluster.record import EPOCH_PATTERN
from calc_server.cluster.replies import as_text


def new_epoch_id() -> str:
    """A fresh random epoch id (16 hex digits)."""
    return secrets.token_hex(8)


async def ensure_epoch(client: Redis, keys: Keys, candidate: str | None = None) -> str:
    """The dataset's epoch, creating it as ``candidate`` (or a random id) when there is none.

    SET NX and GET in one MULTI, so every node racing here gets the same answer.
    """
    candidate = candidate if candidate is not None else new_epoch_id()
    if not EPOCH_PATTERN.fullmatch(candidate):
        raise ValueError(f"an epoch id must match {EPOCH_PATTERN.pattern}")
    async with client.pipeline(transaction=True) as pipe:
        pipe.set(keys.epoch, candidate, nx=True)
        pipe.get(keys.epoch)
        _, epoch = await pipe.execute()
    return as_text(epoch)


async def read_epoch(client: Redis, keys: Keys) -> str | None:
    """The dataset's epoch, or None when Redis holds none (new, or restarted empty)."""
    epoch = await client.get(keys.epoch)
    return None if epoch is None else as_text(epoch)
