"""What a job tells the service while it runs, in order: one run's events, one sink.

A run emits ``Spawned`` (or nothing before ``Exited`` if it could not be spawned), then
``Started`` once, before its first ``Output`` or ``Report``, then any number of those, and
``Exited`` exactly once, last, after every process of the run has gone.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass

from calc_server.jobs.output import OutputLine, Report


@dataclass(frozen=True, slots=True)
class Spawned:
    """The job's process exists (the run is STARTING); ``pid`` also names its process group."""

    pid: int


@dataclass(frozen=True, slots=True)
class Started:
    """The job showed its first sign of life, a line or a report (STARTING -> IN_PROGRESS)."""


@dataclass(frozen=True, slots=True)
class Output:
    """Lines the job printed, oldest first (both streams, each line says which)."""

    lines: tuple[OutputLine, ...]


@dataclass(frozen=True, slots=True)
class Exited:
    """The run is over: the job and every process of its group have exited.

    ``exit_code`` is set when the job exited by itself (126 or 127 with ``error`` when it could
    not be run at all), ``signal`` when a signal ended it. ``canceled`` says a cancel was asked
    for before the end, ``killed`` that the grace ran out and the group got SIGKILL.
    """

    exit_code: int | None
    signal: int | None = None
    canceled: bool = False
    killed: bool = False
    last_message: str | None = None
    last_stderr: str | None = None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        """True for an exit with code 0."""
        return self.exit_code == 0

    @property
    def message(self) -> str | None:
        """The line to state with the end: why it failed, or the job's last message.

        For a failure the last stderr line usually names the cause (a traceback's last line),
        so it comes before the last report; for a success, only the job's own message counts.
        """
        if self.error is not None:
            return self.error
        if self.succeeded or self.canceled:
            return self.last_message
        return self.last_stderr or self.last_message

    def describe(self) -> str:
        """How it ended in words: "exit 3", "killed by SIGTERM"."""
        if self.signal is not None:
            try:
                name = signal.Signals(self.signal).name
            except ValueError:
                name = f"signal {self.signal}"
            return f"killed by {name}"
        return f"exit {self.exit_code}"


JobEvent = Spawned | Started | Report | Output | Exited
"""Everything a job emits (``Report`` comes from ``calc_server.jobs.output``)."""

JobSink = Callable[[JobEvent], None]
"""Where a run's events go: called on the event loop, in order; it must not block."""
