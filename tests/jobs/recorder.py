"""A job sink for tests: keeps every event and lets a test wait for the one it needs."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

from calc_server.jobs import Exited, JobEvent, Output, OutputLine, Report
from calc_server.jobs.supervisor import group_alive

PYTHON = sys.executable
ROOT = Path(__file__).resolve().parents[2]


class Recorder:
    """A ``JobSink`` that records the run's events in order."""

    def __init__(self) -> None:
        self.events: list[JobEvent] = []
        self._arrived = asyncio.Event()

    def __call__(self, event: JobEvent) -> None:
        self.events.append(event)
        self._arrived.set()

    async def wait_for(
        self, predicate: Callable[[JobEvent], bool], timeout: float = 30.0
    ) -> JobEvent:
        """The first event (already recorded or still to come) for which ``predicate`` holds."""
        seen = 0
        async with asyncio.timeout(timeout):
            while True:
                for event in self.events[seen:]:
                    if predicate(event):
                        return event
                seen = len(self.events)
                self._arrived.clear()
                await self._arrived.wait()

    async def wait_for_line(self, text: str, timeout: float = 30.0) -> OutputLine:
        """The first output line containing ``text``."""
        event = await self.wait_for(
            lambda e: isinstance(e, Output) and any(text in line.text for line in e.lines),
            timeout,
        )
        assert isinstance(event, Output)
        return next(line for line in event.lines if text in line.text)

    @property
    def lines(self) -> list[OutputLine]:
        """Every output line, oldest first."""
        return [line for e in self.events if isinstance(e, Output) for line in e.lines]

    def texts(self, stream: str | None = None) -> list[str]:
        """The text of every output line (of one stream, if given)."""
        return [line.text for line in self.lines if stream is None or line.stream == stream]

    @property
    def reports(self) -> list[Report]:
        """Every report, oldest first."""
        return [e for e in self.events if isinstance(e, Report)]

    @property
    def exited(self) -> Exited:
        """The run's one ``Exited``, which must be the last event."""
        ends = [e for e in self.events if isinstance(e, Exited)]
        assert len(ends) == 1, ends
        assert self.events[-1] is ends[0]
        return ends[0]


def python(code: str) -> list[str]:
    """argv running ``code`` in this interpreter."""
    return [PYTHON, "-c", code]


def process_gone(pid: int) -> bool:
    """True once ``pid`` is not a process any more (a zombie still counts as there)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def group_gone(pgid: int) -> bool:
    """True once no process (zombies included) is left in group ``pgid``."""
    return not group_alive(pgid)
