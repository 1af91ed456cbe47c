"""Committing a Calculation's changes to Redis one by one, each a compare-and-set on seq."""

from __future__ import annotations

from collections.abc import Iterable

from calc_server.cluster.state import Change, SharedState, Verdict
from protocol import State, encode


async def commit(
    store: SharedState,
    changes: Iterable[State],
    *,
    after: int,
    at: float,
    fence: int | None = None,
) -> Verdict:
    """Apply ``changes`` in order, the first on top of seq ``after``; stop at the first refusal.

    Returns APPLIED when every change was stored and published, else the refusal's verdict
    (the changes before it stand: each was a valid next state on its own).
    """
    expected = after
    for state in changes:
        change = Change(state.epoch, expected, state.seq, encode(state), fence=fence, at=at)
        outcome = await store.transition(change)
        if not outcome.applied:
            return outcome.verdict
        expected = state.seq
    return Verdict.APPLIED
