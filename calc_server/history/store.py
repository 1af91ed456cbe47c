"""The one interface the server uses to keep run history, whatever keeps it.

Recording never waits and never raises: ``record_*`` return at once, and a store that cannot
write keeps serving (it says so through ``available``). Reads are awaited and raise
``HistoryUnavailable`` when the store cannot answer truthfully.
"""

from __future__ import annotations

from typing import Protocol

from calc_server.history.records import HistoryPage, OutputLine, RunOutcome, RunRecord


class HistoryUnavailable(Exception):
    """The history cannot be read now (the server answers error ``history_unavailable``)."""


class HistoryFileRefused(Exception):
    """The history file is not ours or is damaged: the server must not start on it.

    The message is one line naming the file and the way out.
    """


class HistoryReader(Protocol):
    """What answering ``history`` requests needs of a history, whoever writes it."""

    @property
    def available(self) -> bool:
        """False while the store cannot write (or read); it keeps retrying meanwhile."""
        ...

    async def page(
        self, limit: int, before: str | None = None, *, tails: bool = True
    ) -> HistoryPage:
        """Up to ``limit`` runs newest first, older than run ``before`` when given.

        A ``before`` that is no longer kept gives an empty page: everything older is gone too.
        Without ``tails`` the runs come without their output tails, which is cheaper.
        """
        ...

    async def get(self, calculation_id: str) -> RunRecord | None:
        """One run, or None if it is not kept."""
        ...

    def counts_by_outcome(self) -> dict[RunOutcome, int]:
        """Runs ever ended in this history, by outcome (retention does not lower them)."""
        ...

    async def close(self) -> None:
        """Write what is pending (bounded in time) and release the store."""
        ...


class HistoryStore(HistoryReader, Protocol):
    """Where a single server keeps run history: memory or a SQLite file (a cluster writes its
    history in Redis with each change instead: ``calc_server.cluster.runs``)."""

    def record_start(
        self,
        calculation_id: str,
        started_by: str,
        *,
        at: float | None = None,
        command: str | None = None,
    ) -> None:
        """A run started at ``at`` (epoch seconds; now if None). Returns at once."""
        ...

    def record_stage(self, calculation_id: str, stage: int, *, at: float | None = None) -> None:
        """The open run entered ``stage`` (1, 2, ...) at ``at``. Returns at once."""
        ...

    def record_end(
        self,
        calculation_id: str,
        outcome: RunOutcome,
        ended_by: str | None,
        *,
        at: float | None = None,
        exit_code: int | None = None,
        last_message: str | None = None,
        output_tail: tuple[OutputLine, ...] | list[OutputLine] = (),
    ) -> None:
        """The open run ended at ``at``; real jobs add how they exited. Returns at once."""
        ...

    async def mark_interrupted(self) -> list[RunRecord]:
        """Close the runs a previous server left open as INTERRUPTED, and return them.

        Call once at start-up, before the first ``record_start``.
        """
        ...
