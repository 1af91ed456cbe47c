"""The built-in timer as a ``Job``: the default when no command is configured.

Its stages follow the calculation's own clock (``Calculation(timed=True)`` arms the deadlines),
so a run has no process to spawn, nothing to print and nothing to wait for: ``start`` and
``cancel`` only note the run, and no event ever comes. The service drives it exactly as it
drives a ``CommandJob``.
"""

from __future__ import annotations

from calc_server.jobs.events import Exited, JobSink


class TimerJob:
    """The built-in timer; implements ``calc_server.jobs.Job`` with nothing outside the clock."""

    @property
    def timed(self) -> bool:
        """Always: the stages follow the calculation's clock."""
        return True

    @property
    def running(self) -> bool:
        """Never: the timed calculation itself is the run."""
        return False

    def start(self, calculation_id: str, sink: JobSink) -> None:
        """Nothing to spawn: the calculation's deadlines move the stages."""

    def cancel(self, grace: float) -> None:
        """Nothing to stop: the timed calculation is CANCELED at once."""

    async def wait(self) -> Exited | None:
        """No run of its own to wait for."""
        return None
