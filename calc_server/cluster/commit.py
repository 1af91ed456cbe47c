"""Committing a Calculation's changes to Redis one by one, each a compare-and-set on seq."""

from __future__ import annotations

from collections.abc import Sequence

from calc_server.cluster.state import Change, RunEntry, SharedState, Verdict
from protocol import State, encode


async def commit(
    store: SharedState,
    changes: Sequence[State],
    *,
    after: int,
    at: float,
    fence: int | None = None,
    canceling_by: str | None = None,
    entries: Sequence[RunEntry | None] = (),
) -> Verdict:
    """Apply ``changes`` in order, the first on top of seq ``after``; stop at the first refusal.

    ``entries[i]`` is the run record ``changes[i]`` makes (missing: none), ``canceling_by`` who
    asked a job to stop, stored with the changes that say it is stopping. Returns APPLIED when
    every change was stored and published, else the refusal's verdict (the changes before it
    stand: each was a valid next state on its own).
    """
    expected = after
    for index, state in enumerate(changes):
        change = Change(
            state.epoch,
            expected,
            state.seq,
            encode(state),
            fence=fence,
            at=at,
            canceling_by=canceling_by if state.canceling else None,
            entry=entries[index] if index < len(entries) else None,
        )
        outcome = await store.transition(change)
        if not outcome.applied:
            return outcome.verdict
        expected = state.seq
    return Verdict.APPLIED
