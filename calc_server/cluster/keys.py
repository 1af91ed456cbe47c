"""Where each piece of cluster state lives in Redis: every key and the channel, from one prefix."""

from __future__ import annotations

import re
from dataclasses import dataclass

_PREFIX = re.compile(r"^[A-Za-z0-9_.:{}-]{1,64}$")


@dataclass(frozen=True)
class Keys:
    """The Redis key names of one cluster; every cluster sharing a Redis uses its own prefix.

    - ``state``: hash ``{frame, seq, epoch}``, the shared state record (see ``SharedState``).
    - ``epoch``: string, the dataset's epoch id (see ``ensure_epoch``).
    - ``lease``: string ``"<token> <node>"`` with a PX expiry, the run owner's lease.
    - ``fence``: integer counter, the last fencing token handed out (INCR only).
    - ``nodes``: set of node ids that reported presence; ``presence(node)``: that node's count.
    - ``runs``: hash of calculation id to encoded run record; ``run_order``: sorted set of the
      same ids scored by start time; ``run_counts``: hash of runs ended by outcome (the run
      history, capped, written by the ``transition`` script with the change it records).
    - ``job``: string, the ``--job`` command line of the node that joined last ('' the timer).
    - ``channel``: the pub/sub channel every state change is published on.
    - ``output_channel``: the pub/sub channel a job's ``output`` frames are published on.
    """

    prefix: str = "calc:"

    def __post_init__(self) -> None:
        if not _PREFIX.fullmatch(self.prefix):
            raise ValueError(f"key prefix must match {_PREFIX.pattern}: {self.prefix!r}")

    @property
    def state(self) -> str:
        """The state record hash."""
        return f"{self.prefix}state"

    @property
    def epoch(self) -> str:
        """The epoch string."""
        return f"{self.prefix}epoch"

    @property
    def lease(self) -> str:
        """The run owner's lease."""
        return f"{self.prefix}lease"

    @property
    def fence(self) -> str:
        """The fencing token counter."""
        return f"{self.prefix}fence"

    @property
    def nodes(self) -> str:
        """The set of nodes that reported presence."""
        return f"{self.prefix}nodes"

    @property
    def presence_prefix(self) -> str:
        """The common start of every node's presence key."""
        return f"{self.prefix}presence:"

    def presence(self, node: str) -> str:
        """The presence count of ``node``."""
        return f"{self.presence_prefix}{node}"

    @property
    def runs(self) -> str:
        """The run history's records, by calculation id."""
        return f"{self.prefix}runs"

    @property
    def run_order(self) -> str:
        """The run history's ids, scored by start time (the newest have the highest scores)."""
        return f"{self.prefix}run-order"

    @property
    def run_counts(self) -> str:
        """Runs ever ended in this dataset, by outcome."""
        return f"{self.prefix}run-counts"

    @property
    def job(self) -> str:
        """What the last node to join runs as the calculation (its --job, '' for the timer)."""
        return f"{self.prefix}job"

    @property
    def channel(self) -> str:
        """The channel state changes are published on."""
        return f"{self.prefix}changes"

    @property
    def output_channel(self) -> str:
        """The channel a job's ``output`` frames are published on, by the node running it."""
        return f"{self.prefix}output"
