"""The thin I/O shell around the pure Calculation: loop timers and job events in, broadcasts out.

The service drives one ``Job`` (``calc_server.jobs``) without asking which: the built-in
``TimerJob`` or a real ``CommandJob``. A start that the calculation accepts starts the job; an
accepted cancel cancels it; each event of the run goes back to the calculation, and its lines
to the ``OutputFeed``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from calc_server.calculation import SHUTDOWN, Calculation, Outcome
from calc_server.history import OUTPUT_TAIL_LINES
from calc_server.history import OutputLine as HistoryLine
from calc_server.hub import Hub
from calc_server.jobs import Exited, Job, JobEvent, JobSink, Output, TimerJob
from calc_server.metrics import Metrics
from calc_server.output_feed import OutputFeed
from calc_server.run_history import JobDetails, RunHistory
from calc_server.service_api import log_change
from protocol import State, encode

log = logging.getLogger("calc_server.calculation")

SHUTDOWN_GRACE = 5.0
"""At server shutdown a job gets at most this long after SIGTERM before SIGKILL."""

END_WAIT = 5.0
"""How long, beyond the grace, shutdown waits for a job's end before it gives up on it."""


class CalculationService:
    """Owns the Calculation and its job, arms one timer for the next deadline, publishes changes.

    Every change is encoded once and handed to the hub. Canceling disarms the timer, so no
    transition can follow CANCELED; a timer that fires early simply re-arms.
    """

    def __init__(
        self,
        calculation: Calculation,
        hub: Hub,
        clock: Callable[[], float],
        metrics: Metrics,
        history: RunHistory,
        job: Job | None = None,
        grace: float = 10.0,
        command: str | None = None,
    ) -> None:
        self.calculation = calculation
        self._history = history
        self._command = command
        """The job's command line, for the history; None for the built-in timer."""
        self.job: Job = job or TimerJob()
        self.output = OutputFeed(hub, metrics)
        """The job's kept lines and their paced broadcast."""
        self._grace = grace
        self._hub = hub
        self._metrics = metrics
        self._clock = clock
        self._timer: asyncio.TimerHandle | None = None

    def snapshot(self) -> State:
        """The current state."""
        return self.calculation.snapshot(self._clock())

    def start(self, by: str) -> Outcome:
        """Start a calculation on behalf of ``by``, and its job."""
        outcome = self._apply(lambda now: self.calculation.start(now, by))
        calculation_id = self.calculation.calculation_id
        if outcome.accepted and calculation_id is not None:
            self.output.new_run(calculation_id)
            self.job.start(calculation_id, self._sink(calculation_id))
        return outcome

    def cancel(self, by: str, calculation_id: str | None) -> Outcome:
        """Cancel the running calculation on behalf of ``by``: its job ends, then CANCELED."""
        outcome = self._apply(lambda now: self.calculation.cancel(now, by, calculation_id))
        if outcome.accepted:
            self.job.cancel(self._grace)
        return outcome

    async def shutdown(self) -> None:
        """Cancel whatever runs because the server is stopping, wait for its end, disarm."""
        self._apply(lambda now: self.calculation.cancel(now, SHUTDOWN))
        grace = min(self._grace, SHUTDOWN_GRACE)
        self.job.cancel(grace)
        try:
            async with asyncio.timeout(grace + END_WAIT):
                await self.job.wait()
        except TimeoutError:
            log.error("the job did not end %.1fs after SIGKILL", END_WAIT)
        self.output.stop()
        self._disarm()

    def _sink(self, calculation_id: str) -> JobSink:
        """Where one run's events go: the feed for its lines, the calculation for the rest."""

        def sink(event: JobEvent) -> None:
            if isinstance(event, Output):
                self.output.add(event.lines)
                return
            if isinstance(event, Exited):
                self.output.flush(at_once=True)  # every line before the end, in order
                log.info("job of calculation %s ended: %s", calculation_id, event.describe())
            self._apply_changes(lambda now: self.calculation.job_event(now, calculation_id, event))

        return sink

    def _apply(self, command: Callable[[float], Outcome]) -> Outcome:
        try:
            outcome = command(self._clock())
        except Exception:
            self._failed()
            raise
        self._publish(outcome.changes)
        self._arm()
        return outcome

    def _apply_changes(self, command: Callable[[float], list[State]]) -> None:
        try:
            changes = command(self._clock())
        except Exception:
            self._failed()
            return
        self._publish(changes)
        self._arm()

    def _on_deadline(self) -> None:
        self._timer = None
        self._apply_changes(self.calculation.advance)

    def _failed(self) -> None:
        log.exception("calculation failed unexpectedly")
        self._disarm()
        self._publish(self.calculation.fail(self._clock(), "server error"))
        self.job.cancel(self._grace)

    def _publish(self, changes: Iterable[State]) -> None:
        for state in changes:
            self._metrics.state_changes += 1
            self._hub.broadcast_state(encode(state))
            # after the fan-out; queues, never waits on disk
            self._history.observe(state, self._job_details(state))
            log_change(state)

    def _job_details(self, state: State) -> JobDetails | None:
        """What the history keeps of a real job with ``state``: its command, and at the end
        how it exited, its last message and its last lines."""
        if self._command is None:
            return None
        if state.state.running:
            return JobDetails(command=self._command)
        lines = self.output.ring.tail(OUTPUT_TAIL_LINES).lines
        return JobDetails(
            command=self._command,
            exit_code=state.exit_code,
            last_message=state.message,
            output_tail=tuple(HistoryLine(line.stream, line.text) for line in lines),
        )

    def _arm(self) -> None:
        self._disarm()
        deadline = self.calculation.deadline()
        if deadline is not None:
            self._timer = asyncio.get_running_loop().call_at(deadline, self._on_deadline)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
