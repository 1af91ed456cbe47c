"""The recording half both stores share: events through a ``RunBook``, whole records out."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable

from calc_server.history.book import RunBook
from calc_server.history.records import OutputLine, RunOutcome, RunRecord


class Recorder(ABC):
    """Turns ``record_*`` calls into complete records and hands each to ``_write``.

    Runs on the caller's thread (the event loop) and never blocks: ``_write`` only queues.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._book = RunBook()

    @abstractmethod
    def _write(self, record: RunRecord) -> None:
        """Keep ``record`` (new or replacing the one with its id); must not block."""

    def record_start(
        self,
        calculation_id: str,
        started_by: str,
        *,
        at: float | None = None,
        command: str | None = None,
    ) -> None:
        """A run started at ``at`` (epoch seconds; now if None). Returns at once."""
        when = self._clock() if at is None else at
        self._write(self._book.start(calculation_id, started_by, when, command))

    def record_stage(self, calculation_id: str, stage: int, *, at: float | None = None) -> None:
        """The open run entered ``stage`` (1, 2, ...) at ``at``. Returns at once."""
        when = self._clock() if at is None else at
        if (record := self._book.stage(calculation_id, stage, when)) is not None:
            self._write(record)

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
        when = self._clock() if at is None else at
        record = self._book.end(
            calculation_id,
            outcome,
            ended_by,
            when,
            exit_code=exit_code,
            last_message=last_message,
            output_tail=output_tail,
        )
        if record is not None:
            self._write(record)

    def _stored_counts(self) -> Counter[RunOutcome]:
        """Runs ended before this store was opened, by outcome (none unless overridden)."""
        return Counter()

    def counts_by_outcome(self) -> dict[RunOutcome, int]:
        """Runs ever ended in this history, by outcome (retention does not lower them)."""
        total = self._stored_counts() + self._book.ended
        return {outcome: total[outcome] for outcome in RunOutcome}
