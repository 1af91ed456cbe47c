"""What the history keeps about one run, and a page of runs.

Times are UTC wall-clock epoch seconds (floats): a duration is a subtraction, they sort as
numbers, JSON carries them as they are, and there is no time zone or format to get wrong; the
clients format them for people.
"""

from __future__ import annotations

import enum
from typing import Literal, NamedTuple

import msgspec

DEFAULT_KEEP = 10_000
"""Runs kept by default (``--history-keep``): the newest ones."""

OUTPUT_TAIL_LINES = 50
"""Lines of a job's output kept with its run: the last ones."""

MAX_LINE_CHARS = 1_000
"""Characters kept of one output line: job output is untrusted and must not bloat the file."""

INTERRUPTED_BY = "server stopped unexpectedly"
"""``ended_by`` of a run that was still open when its server died."""


class RunOutcome(enum.Enum):
    """How a run ended."""

    SUCCESS = "SUCCESS"
    CANCELED = "CANCELED"
    FAILED = "FAILED"
    INTERRUPTED = "INTERRUPTED"


class OutputLine(msgspec.Struct, frozen=True):
    """One line a job wrote, and to which stream."""

    stream: Literal["out", "err"]
    text: str


class RunRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One run: who started it and when, how each stage went, how and when it ended.

    ``outcome`` and ``ended_at`` are None while the run is open. ``stage_seconds`` holds the
    duration of each stage the run finished (or was in when it ended). The last four fields
    are only set for real jobs.
    """

    calculation_id: str
    started_by: str
    started_at: float
    ended_at: float | None = None
    outcome: RunOutcome | None = None
    ended_by: str | None = None
    stage_seconds: tuple[float, ...] = ()
    command: str | None = None
    exit_code: int | None = None
    last_message: str | None = None
    output_tail: tuple[OutputLine, ...] = ()

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, or None while the run is open."""
        if self.ended_at is None:
            return None
        return max(self.ended_at - self.started_at, 0.0)

    @property
    def last_seen(self) -> float:
        """The last moment the history heard of this run: its end, else its last stage change."""
        if self.ended_at is not None:
            return self.ended_at
        return self.started_at + sum(self.stage_seconds)


class HistoryPage(NamedTuple):
    """Runs newest first, and whether older runs exist beyond them."""

    runs: list[RunRecord]
    more: bool


def clip_tail(lines: tuple[OutputLine, ...] | list[OutputLine]) -> tuple[OutputLine, ...]:
    """The last ``OUTPUT_TAIL_LINES`` lines, each cut to ``MAX_LINE_CHARS`` characters."""
    return tuple(
        OutputLine(line.stream, line.text[:MAX_LINE_CHARS])
        if len(line.text) > MAX_LINE_CHARS
        else line
        for line in lines[-OUTPUT_TAIL_LINES:]
    )
