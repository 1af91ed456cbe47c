"""The run history of a cluster, in Redis: capped, the same on every node, written once.

A run's record is written by the ``transition`` script together with the change that starts or
ends the run (``RunEntry``), so exactly the node whose change won records it, and only once;
there is no separate write that could be lost or doubled. Each node follows every state it is
shown with a ``RunBook`` (stage times as this node saw them), which is how the node that ends
a run knows how long its stages took, even when another node started it.

Records live in ``keys.runs`` (id -> encoded ``RunRecord``), ordered by start time in
``keys.run_order``, the newest ``--history-keep`` kept; ``keys.run_counts`` counts ended runs
by outcome. Reads never block a state change: a read that Redis cannot answer raises
``HistoryUnavailable``.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence

import msgspec
from redis.asyncio import Redis

from calc_server.cluster.keys import Keys
from calc_server.cluster.replies import as_bytes, as_text
from calc_server.cluster.state import RunEntry
from calc_server.cluster.subscriber import LINK_ERRORS
from calc_server.history import (
    HistoryPage,
    HistoryUnavailable,
    OutputLine,
    RunOutcome,
    RunRecord,
)
from calc_server.history.book import RunBook
from calc_server.history.records import clip_tail
from calc_server.run_history import OUTCOMES
from protocol import Phase, State

log = logging.getLogger("calc_server.cluster.runs")

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(RunRecord)

# KEYS: runs, run order. ARGV: how many, the id to page before ('' = the newest first).
_PAGE = """
local start = 0
if ARGV[2] ~= '' then
  local rank = redis.call('ZREVRANK', KEYS[2], ARGV[2])
  if not rank then
    return {}
  end
  start = rank + 1
end
local ids = redis.call('ZREVRANGE', KEYS[2], start, start + tonumber(ARGV[1]) - 1)
if #ids == 0 then
  return {}
end
return redis.call('HMGET', KEYS[1], unpack(ids))
"""


class SharedRuns:
    """The cluster's run history as this node reads it, and the records its changes make.

    Also the view the connections use (``store``, ``last_run``, ``counts``): ``last_run`` is
    read from Redis, so every node greets with the same one.
    """

    def __init__(self, client: Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._page = client.register_script(_PAGE)
        self._book = RunBook()
        self._last_seq: int | None = None
        self._counts: dict[RunOutcome, int] = dict.fromkeys(RunOutcome, 0)
        self.last_run: RunRecord | None = None
        """The newest ended run (without its output tail), as last read from Redis."""

    # --- the view and the store the connections use --------------------------------------

    @property
    def store(self) -> SharedRuns:
        """The store answering ``history`` requests: this."""
        return self

    @property
    def available(self) -> bool:
        """Redis is asked at each read; one that cannot answer raises ``HistoryUnavailable``."""
        return True

    async def page(
        self, limit: int, before: str | None = None, *, tails: bool = True
    ) -> HistoryPage:
        """Up to ``limit`` runs newest first, older than run ``before`` when given; without
        ``tails``, without their output tails."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        try:
            found = await self._page(
                keys=[self._keys.runs, self._keys.run_order], args=[limit + 1, before or ""]
            )
        except LINK_ERRORS:
            raise HistoryUnavailable from None
        runs = [_decoder.decode(as_bytes(raw)) for raw in found if raw is not None]
        if not tails:
            runs = [msgspec.structs.replace(run, output_tail=()) for run in runs]
        return HistoryPage(runs[:limit], len(runs) > limit)

    async def get(self, calculation_id: str) -> RunRecord | None:
        """One run, or None if it is not kept."""
        try:
            raw = await self._client.hget(self._keys.runs, calculation_id)
        except LINK_ERRORS:
            raise HistoryUnavailable from None
        return None if raw is None else _decoder.decode(as_bytes(raw))

    def counts_by_outcome(self) -> dict[RunOutcome, int]:
        """Runs ever ended in this cluster's dataset, by outcome, as last read."""
        return dict(self._counts)

    def counts(self) -> dict[str, int]:
        """The same by outcome name (for ``/metrics``)."""
        return {outcome.value: n for outcome, n in self._counts.items()}

    async def close(self) -> None:
        """Nothing to release: the node closes the Redis client."""

    async def refresh(self) -> None:
        """Read ``last_run`` and the counts again (after a run ended, or a new epoch)."""
        try:
            newest = (await self.page(2)).runs
            counts = await self._client.hgetall(self._keys.run_counts)
        except (HistoryUnavailable, *LINK_ERRORS):
            return  # the next end or relink reads it again
        ended = [run for run in newest if run.outcome is not None]
        self.last_run = msgspec.structs.replace(ended[0], output_tail=()) if ended else None
        self._counts = dict.fromkeys(RunOutcome, 0)
        for name, count in counts.items():
            try:
                self._counts[RunOutcome(as_text(name))] = int(count)
            except ValueError:
                log.warning("ignored a run count this node cannot read")

    def forget(self) -> None:
        """Redis lost its data: no run is open any more, none has ended."""
        self._book = RunBook()
        self._last_seq = None
        self.last_run = None
        self._counts = dict.fromkeys(RunOutcome, 0)

    # --- what the node's own changes record ----------------------------------------------

    def observe(self, state: State, at: float) -> None:
        """Follow ``state`` (any node's change, shown here at ``at``) in the book of runs.

        A run is timed here only if this node saw the change that started it: a state met
        after a gap (joining, a resync) may be a run that began long before.
        """
        seen_start = self._last_seq is not None and state.seq == self._last_seq + 1
        self._last_seq = state.seq
        if state.calculation_id not in self._book.open and not seen_start:
            return  # ``entries`` opens it from its stored start, should this node end it
        _follow(self._book, state, at)

    async def entries(
        self,
        changes: Sequence[State],
        at: float,
        *,
        command: str | None = None,
        tail: Sequence[OutputLine] = (),
    ) -> list[RunEntry | None]:
        """The run records ``changes`` (decided at ``at``) make: a start, or an end.

        ``command`` is the job this node runs for a run it starts, ``tail`` the last lines of
        the job it ends. A run this node has not seen start (it joined later) is taken from
        the record its start left in Redis.
        """
        book = RunBook(open={cid: copy.copy(run) for cid, run in self._book.open.items()})
        entries: list[RunEntry | None] = []
        for state in changes:
            cid = state.calculation_id
            fresh = state.state is Phase.STARTING and state.stage == 0
            if cid is not None and cid not in book.open and not fresh:
                await self._adopt(book, cid, state, at)
            entries.append(_entry(book, state, at, command, tuple(tail)))
        return entries

    async def _adopt(self, book: RunBook, cid: str, state: State, at: float) -> None:
        """Open ``cid`` in ``book`` from its stored start (the stages before now unknown)."""
        try:
            stored = await self.get(cid)
        except HistoryUnavailable:
            stored = None
        started_at = at if stored is None else stored.started_at
        by = state.started_by or "unknown"
        command = None if stored is None else stored.command
        for kept in (book, self._book):
            kept.start(cid, by, started_at, command)
            if state.state.running:
                kept.stage(cid, state.stage, at)


def _follow(book: RunBook, state: State, at: float) -> RunRecord | None:
    """Apply ``state`` to ``book``; the record of a run it starts or ends, else None."""
    cid = state.calculation_id
    if cid is None:
        return None
    if state.state.running:
        if cid not in book.open:
            if state.stage > 0:
                return None  # met mid-run: ``entries`` opens it from its stored start
            return book.start(cid, state.started_by or "unknown", at, None)
        book.stage(cid, state.stage, at)
        return None
    outcome = OUTCOMES.get(state.state)
    if outcome is None:
        return None
    return book.end(
        cid,
        outcome,
        state.ended_by,
        at,
        exit_code=state.exit_code,
        last_message=state.message,
        output_tail=(),
    )


def _entry(
    book: RunBook,
    state: State,
    at: float,
    command: str | None,
    tail: tuple[OutputLine, ...],
) -> RunEntry | None:
    """What ``state`` writes to the history, applied to ``book``: its run's start or end."""
    cid = state.calculation_id
    if cid is None:
        return None
    if state.state.running:
        if cid in book.open:
            book.stage(cid, state.stage, at)
            return None
        record = book.start(cid, state.started_by or "unknown", at, command)
        book.stage(cid, state.stage, at)
    else:
        ended = _follow(book, state, at)
        if ended is None:
            return None
        if ended.command is None and state.stage_duration <= 0:
            # a job's run (its stages have no length), followed here from its states: the
            # command is the one every node runs
            ended = msgspec.structs.replace(ended, command=command)
        record = msgspec.structs.replace(ended, output_tail=clip_tail(tail)) if tail else ended
    outcome = None if record.outcome is None else record.outcome.value
    return RunEntry(cid, _encoder.encode(record), record.started_at, outcome)
