"""What runs as the calculation: the seam between the service and a job.

The service drives one ``Job``, whichever it is (the built-in timer, or ``CommandJob`` for a
real command), through two commands that return at once, and learns everything else from the
events the run sends to the sink it was started with::

    job.start(calculation_id, sink)   # -> Spawned, Started, Output*/Report*, Exited (last, once)
    job.cancel(grace)                 # SIGTERM now, SIGKILL after grace; Exited when all is gone
    await job.wait()                  # the run's Exited (server shutdown waits on this)

The events (``calc_server.jobs.events``) map onto the pure state machine: ``Spawned`` is
STARTING, ``Started`` is IN_PROGRESS, a ``Report`` carries progress/message/stage (the machine
decides ALMOST_DONE from ``stage`` or ``progress >= 0.9``), ``Output`` goes to the ``OutputRing``
(``calc_server.jobs.buffer``, which assigns offsets) and to the clients, and ``Exited`` is
SUCCESS, FAILED or, when a cancel was asked for, CANCELED. A sink is per run, so an event of an
old run can never be mistaken for one of the current run.

Modules: ``output`` (bytes to lines and reports, pure), ``buffer`` (the kept lines, pure),
``events``, ``command`` (``CommandJob``), ``supervisor`` (the process that ties the job's life
to the server's), ``timer`` (``TimerJob``, the built-in timer: the default).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from calc_server.jobs.buffer import OutputRing, Page
from calc_server.jobs.command import CommandJob, JobConfigError
from calc_server.jobs.events import Exited, JobEvent, JobSink, Output, Spawned, Started
from calc_server.jobs.output import OutputLine, Report, Stream
from calc_server.jobs.timer import TimerJob


class Job(Protocol):
    """Something that runs as the calculation, one run at a time."""

    @property
    def timed(self) -> bool:
        """True when the calculation's own clock moves the stages (the built-in timer)."""
        ...

    @property
    def running(self) -> bool:
        """True from ``start`` until the run's ``Exited`` was emitted."""
        ...

    def start(self, calculation_id: str, sink: JobSink) -> None:
        """Begin a run; it reports to ``sink``. Raises RuntimeError while a run is going."""
        ...

    def cancel(self, grace: float) -> None:
        """End the run: politely now, by force after ``grace`` seconds. No-op when idle."""
        ...

    async def wait(self) -> Exited | None:
        """The end of the current or last run (None if there never was one)."""
        ...


if TYPE_CHECKING:
    _COMMAND_JOB_IS_A_JOB: type[Job] = CommandJob  # mypy checks the fit; nothing runs
    _TIMER_JOB_IS_A_JOB: type[Job] = TimerJob


__all__ = [
    "CommandJob",
    "Exited",
    "Job",
    "JobConfigError",
    "JobEvent",
    "JobSink",
    "Output",
    "OutputLine",
    "OutputRing",
    "Page",
    "Report",
    "Spawned",
    "Started",
    "Stream",
    "TimerJob",
]
