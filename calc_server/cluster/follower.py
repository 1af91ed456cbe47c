"""Which published changes a node may hand on, and when it must resync (pure: no I/O).

A node shows a state only if it is the next one after the last it showed: a change that
follows it is delivered, a change already covered is dropped, and anything else (a gap after
a reconnect, a new epoch) is answered by reading the stored record, the newest there is. So no
node ever shows an out-of-order or invented state.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from calc_server.cluster.record import Published, StateRecord


class Step(enum.Enum):
    """What to do with one published change."""

    DELIVER = "deliver"
    """It is the next state: hand its frame on."""
    DROP = "drop"
    """Already delivered, or older (read in a resync before its message arrived)."""
    RESYNC = "resync"
    """Something was missed: read the stored record instead."""


@dataclass
class Follower:
    """The last record handed on, and the rule for the next one."""

    last: StateRecord | None = None

    def on_published(self, published: Published) -> Step:
        """Decide about one published change; a delivered one becomes ``last``."""
        record, last = published.record, self.last
        if last is None or record.epoch != last.epoch:
            step = Step.DELIVER if published.prev is None else Step.RESYNC
        elif record.seq <= last.seq:
            step = Step.DROP
        else:
            step = Step.DELIVER if published.prev == last.seq else Step.RESYNC
        if step is Step.DELIVER:
            self.last = record
        return step

    def on_resync(self, stored: StateRecord | None) -> StateRecord | None:
        """The stored record if it is newer than ``last`` (then it becomes ``last``), else None.

        Nothing stored (Redis restarted empty) delivers nothing: the last state stays shown
        until the new epoch's first record is published.
        """
        last = self.last
        if stored is None:
            return None
        if last is not None and stored.epoch == last.epoch and stored.seq <= last.seq:
            return None
        self.last = stored
        return stored
