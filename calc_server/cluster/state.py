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
from calc_server.history import DEFAULT_KEEP

# KEYS: state hash, epoch, lease, runs hash, run order, run counts. ARGV: epoch, expected seq
# ('' = the record must not exist), new seq, frame, fencing token ('' = this change needs no
# lease), channel, decided-at wall time ('' = unknown; stored beside the frame so a node taking
# over finds the run's grid), who asked a job to cancel ('' = nobody), then the run record this
# change makes ('' = none): its encoding, calculation id, start time (its score), outcome ('' =
# still open) and the number of runs kept. Replies {verdict, stored seq or -1}.
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
redis.call('HSET', KEYS[1], 'frame', ARGV[4], 'seq', ARGV[3], 'epoch', ARGV[1], 'at', ARGV[7],
  'canceling_by', ARGV[8])
redis.call('PUBLISH', ARGV[6], ARGV[1] .. ' ' .. (seq or '-') .. ' ' .. ARGV[3] .. '\\n' .. ARGV[4])
if ARGV[9] ~= '' then
  redis.call('HSET', KEYS[4], ARGV[10], ARGV[9])
  redis.call('ZADD', KEYS[5], ARGV[11], ARGV[10])
  if ARGV[12] ~= '' then
    redis.call('HINCRBY', KEYS[6], ARGV[12], 1)
  end
  -- at most 1,000 a call: unpack has a limit, and a lowered --history-keep trims over time
  local excess = math.min(redis.call('ZCARD', KEYS[5]) - tonumber(ARGV[13]), 1000)
  if excess > 0 then
    local old = redis.call('ZRANGE', KEYS[5], 0, excess - 1)
    redis.call('HDEL', KEYS[4], unpack(old))
    redis.call('ZREMRANGEBYRANK', KEYS[5], 0, excess - 1)
  end
end
return {'ok', tonumber(ARGV[3])}
"""


@dataclass(frozen=True, slots=True)
class RunEntry:
    """The run record a change makes, stored with it (so exactly once): the run's start, or
    its end with ``outcome`` set."""

    calculation_id: str
    record: bytes
    """The encoded ``RunRecord``."""
    started_at: float
    outcome: str | None


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
    ``entry`` is written to the run history in the same atomic step.
    """

    epoch: str
    expected_seq: int | None
    seq: int
    frame: bytes
    fence: int | None = None
    at: float | None = None
    canceling_by: str | None = None
    """Who asked the running job to stop, while it is stopping (the end names them)."""
    entry: RunEntry | None = None
    """The run history record this change makes, if it starts or ends a run."""

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
    ``frame`` (the encoded ``state`` message), ``seq``, ``epoch``, ``at`` and ``canceling_by``.

    Changes that carry a run record keep the newest ``history_keep`` runs.
    """

    def __init__(self, client: Redis, keys: Keys, *, history_keep: int = DEFAULT_KEEP) -> None:
        self._client = client
        self._keys = keys
        self._history_keep = history_keep
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

    async def canceling_by(self) -> str | None:
        """Who asked the running job to stop (None: nobody did)."""
        by = await self._client.hget(self._keys.state, "canceling_by")
        if by is None:
            return None
        return as_text(by) or None  # stored as '' when nobody did

    async def transition(self, change: Change) -> Outcome:
        """Apply ``change`` atomically if it still may be, publishing it once on the channel."""
        keys, entry = self._keys, change.entry
        reply = await self._transition(
            keys=[keys.state, keys.epoch, keys.lease, keys.runs, keys.run_order, keys.run_counts],
            args=[
                change.epoch,
                "" if change.expected_seq is None else change.expected_seq,
                change.seq,
                change.frame,
                "" if change.fence is None else change.fence,
                keys.channel,
                "" if change.at is None else repr(change.at),
                change.canceling_by or "",
                *(
                    ("", "", "", "")
                    if entry is None
                    else (
                        entry.record,
                        entry.calculation_id,
                        repr(entry.started_at),
                        entry.outcome or "",
                    )
                ),
                self._history_keep,
            ],
        )
        verdict, stored = reply
        return Outcome(Verdict(verdict.decode()), None if stored < 0 else int(stored))
