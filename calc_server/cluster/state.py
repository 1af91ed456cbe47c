"""The shared state record in Redis and its one way of changing: the ``transition`` script.

The script checks the epoch, the fencing token and the expected seq, stores the new frame and
publishes it, all in one atomic step: a change is stored and published exactly once, or not at
all, and two nodes can never both win from the same seq.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from redis.asyncio import Redis

from calc_server.cluster.keys import Keys
from calc_server.cluster.record import EPOCH_PATTERN, StateRecord
from calc_server.cluster.replies import as_bytes, as_text

# KEYS: state hash, epoch, lease. ARGV: epoch, expected seq ('' = the record must not exist),
# new seq, frame, fencing token ('' = this change needs no lease), channel, decided-at wall
# time ('' = unknown; stored beside the frame so a node taking over finds the run's grid).
# Replies {verdict, stored seq or -1}.
TRANSITION = """
local stored_epoch = redis.call('GET', KEYS[2])
if stored_epoch ~= ARGV[1] then
  return {'epoch', -1}
end
local stored = redis.call('HMGET', KEYS[1], 'seq', 'frame')
local seq = stored[1]
if ARGV[5] ~= '' then
  local lease = redis.call('GET', KEYS[3])
  if not lease or string.match(lease, '^%d+') ~= ARGV[5] then
    return {'fence', tonumber(seq) or -1}
  end
end
if ARGV[2] == '' then
  if seq then
    return {'seq', tonumber(seq)}
  end
elseif seq ~= ARGV[2] then
  if seq == ARGV[3] and stored[2] == ARGV[4] then
    -- A retry of a call that already won (its reply was lost): same answer, no second publish.
    return {'ok', tonumber(seq)}
  end
  return {'seq', tonumber(seq) or -1}
end
redis.call('HSET', KEYS[1], 'frame', ARGV[4], 'seq', ARGV[3], 'epoch', ARGV[1], 'at', ARGV[7] or '')
redis.call('PUBLISH', ARGV[6], ARGV[1] .. ' ' .. (seq or '-') .. ' ' .. ARGV[3] .. '\\n' .. ARGV[4])
return {'ok', tonumber(ARGV[3])}
"""


class Verdict(enum.Enum):
    """What the transition script decided."""

    APPLIED = "ok"
    """Stored and published: this caller won."""
    STALE_SEQ = "seq"
    """The stored seq is not the expected one: another change won first."""
    STALE_FENCE = "fence"
    """The change needs the lease and the caller's token is not the current one."""
    WRONG_EPOCH = "epoch"
    """The dataset's epoch is not the caller's (Redis restarted empty, or never initialized)."""


@dataclass(frozen=True, slots=True)
class Change:
    """A proposed next state: apply ``frame`` as ``seq`` if the stored seq is ``expected_seq``.

    ``expected_seq`` None creates the record (it must not exist yet); ``fence`` is the caller's
    lease token for changes only the run's owner may make (stage ends), None for the others.
    ``at`` is the wall-clock time (seconds since the Unix epoch) the change was decided at: the
    frame's ``stage_elapsed`` was measured then, so with it another node finds the run's grid.
    """

    epoch: str
    expected_seq: int | None
    seq: int
    frame: bytes
    fence: int | None = None
    at: float | None = None

    def __post_init__(self) -> None:
        if not EPOCH_PATTERN.fullmatch(self.epoch):
            raise ValueError(f"an epoch id must match {EPOCH_PATTERN.pattern}")
        if self.seq < 0 or (self.expected_seq is not None and self.seq <= self.expected_seq):
            raise ValueError("a change's seq must be above the expected seq")


@dataclass(frozen=True, slots=True)
class Outcome:
    """Who won: the verdict, and the seq stored after the call (None: no record or no epoch)."""

    verdict: Verdict
    stored_seq: int | None

    @property
    def applied(self) -> bool:
        """True when this caller's change was stored and published."""
        return self.verdict is Verdict.APPLIED


class SharedState:
    """The state record every node reads and changes: ``keys.state``, a hash of
    ``frame`` (the encoded ``state`` message), ``seq`` and ``epoch``."""

    def __init__(self, client: Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._transition = client.register_script(TRANSITION)

    async def read(self) -> StateRecord | None:
        """The stored record, or None when there is none (new dataset, or restarted empty)."""
        epoch, seq, frame = await self._client.hmget(self._keys.state, ["epoch", "seq", "frame"])
        if epoch is None or seq is None or frame is None:
            return None
        return StateRecord(as_text(epoch), int(seq), as_bytes(frame))

    async def read_timed(self) -> tuple[StateRecord, float | None] | None:
        """The stored record and the wall-clock time its change was decided at (None: unknown).

        One HMGET, so the two always belong together.
        """
        fields = ["epoch", "seq", "frame", "at"]
        epoch, seq, frame, at = await self._client.hmget(self._keys.state, fields)
        if epoch is None or seq is None or frame is None:
            return None
        decided = float(at) if at else None
        return StateRecord(as_text(epoch), int(seq), as_bytes(frame)), decided

    async def transition(self, change: Change) -> Outcome:
        """Apply ``change`` atomically if it still may be, publishing it once on the channel."""
        keys = self._keys
        reply = await self._transition(
            keys=[keys.state, keys.epoch, keys.lease],
            args=[
                change.epoch,
                "" if change.expected_seq is None else change.expected_seq,
                change.seq,
                change.frame,
                "" if change.fence is None else change.fence,
                keys.channel,
                "" if change.at is None else repr(change.at),
            ],
        )
        verdict, stored = reply
        return Outcome(Verdict(verdict.decode()), None if stored < 0 else int(stored))
