"""The shared calculation as a pure state machine.

No sockets, no event loop, no clock of its own: every method takes ``now`` (seconds on a
monotonic clock), so tests drive it with an injected clock and the server with the loop's.
It is the single writer of calculation state; each change comes back as a ``State`` snapshot.

Two kinds of run, chosen once (``timed``): the built-in timer, whose stages follow the clock
(deadlines on a grid), and a job, whose stages follow what the job tells (``job_event``: the
events of ``calc_server.jobs``). A job's cancel is not instant: the state says ``canceling``
until the job's ``Exited`` arrives, and only then CANCELED.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import uuid4

from calc_server.jobs import Exited, JobEvent, Report, Started
from calc_server.jobs.output import shorten
from protocol import STAGES, AckReason, Phase, State

_STAGE_PHASES = (Phase.STARTING, Phase.IN_PROGRESS, Phase.ALMOST_DONE)

ALMOST_DONE_AT = 0.9
"""A job that reports this much progress is ALMOST_DONE."""

REPORT_INTERVAL = 0.1
"""A job's progress and message reach the clients at most this often (seconds); a change of
stage or the end goes out at once."""

SHUTDOWN = "server shutdown"
"""``ended_by`` of a calculation canceled because the server stopped."""


def new_calculation_id() -> str:
    """A short random id for a new calculation."""
    return uuid4().hex[:12]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a command did: whether it was accepted, why not, the changes it caused, and the
    ``seq`` it left the calculation at (the ack's ``seq``)."""

    accepted: bool
    reason: AckReason | None
    changes: tuple[State, ...] = ()
    seq: int = field(kw_only=True)


@dataclass(slots=True)
class Calculation:
    """One shared calculation: IDLE -> STARTING -> IN_PROGRESS -> ALMOST_DONE -> SUCCESS.

    Timed: deadlines are ``started_at + k * stage_duration``, so lateness never accumulates. A
    transition whose deadline has passed counts as done even if no timer has fired yet, which
    makes a cancel racing the final transition resolve to exactly one terminal state.

    Not timed (a job runs): STARTING until the job's first sign of life, IN_PROGRESS, then
    ALMOST_DONE when the job says so or reports ``ALMOST_DONE_AT``; the job's exit decides
    SUCCESS, FAILED or (after a cancel) CANCELED. The only deadline is the next paced report.
    """

    epoch: str
    stage_duration: float
    new_id: Callable[[], str] = new_calculation_id
    timed: bool = True
    seq: int = 0
    phase: Phase = Phase.IDLE
    stage: int = 0
    calculation_id: str | None = None
    started_by: str | None = None
    ended_by: str | None = None
    progress: float | None = None
    message: str | None = None
    exit_code: int | None = None
    canceling_by: str | None = None
    """Who asked a job's run to cancel, while its processes are still exiting."""
    _started_at: float = 0.0
    _frozen_elapsed: float = 0.0
    _stage_started_at: float = 0.0
    _published_at: float = float("-inf")
    _report_due: float | None = None

    def __post_init__(self) -> None:
        if not self.stage_duration > 0:
            raise ValueError("stage_duration must be positive")

    # --- queries -------------------------------------------------------------------------

    def deadline(self) -> float | None:
        """Monotonic time of the next transition (or paced report), or None when nothing runs."""
        if not self.phase.running:
            return None
        if not self.timed:
            return self._report_due
        return self._started_at + (self.stage + 1) * self.stage_duration

    def snapshot(self, now: float) -> State:
        """The full state as seen at ``now``."""
        if self.timed:
            return self._timed_snapshot(now)
        elapsed = max(now - self._stage_started_at, 0.0)
        return self._state(
            elapsed if self.phase.running else self._frozen_elapsed, 0.0, self.progress
        )

    def _timed_snapshot(self, now: float) -> State:
        if self.phase.running:
            stage_start = self._started_at + self.stage * self.stage_duration
            elapsed = min(max(now - stage_start, 0.0), self.stage_duration)
        else:
            elapsed = self._frozen_elapsed
        progress = None
        if self.phase is Phase.SUCCESS:
            progress = 1.0
        elif self.phase is not Phase.IDLE:
            progress = min((self.stage + elapsed / self.stage_duration) / STAGES, 1.0)
        return self._state(elapsed, self.stage_duration, progress)

    def _state(self, elapsed: float, duration: float, progress: float | None) -> State:
        return State(
            seq=self.seq,
            epoch=self.epoch,
            calculation_id=self.calculation_id,
            state=self.phase,
            stage=self.stage,
            stages=STAGES,
            stage_elapsed=elapsed,
            stage_duration=duration,
            started_by=self.started_by,
            ended_by=self.ended_by,
            progress=progress,
            message=self.message,
            exit_code=self.exit_code,
            canceling=self.canceling_by is not None,
        )

    # --- commands ------------------------------------------------------------------------

    def advance(self, now: float) -> list[State]:
        """Apply every transition whose deadline is at or before ``now``."""
        if not self.timed:
            return self._publish_due_report(now)
        changes: list[State] = []
        deadline = self.deadline()
        while deadline is not None and now >= deadline:
            self.stage += 1
            if self.stage < STAGES:
                self.phase = _STAGE_PHASES[self.stage]
            else:
                self.phase = Phase.SUCCESS
                self._frozen_elapsed = 0.0
            changes.append(self._changed(now))
            deadline = self.deadline()
        return changes

    def start(self, now: float, by: str) -> Outcome:
        """Start a new calculation unless one is running."""
        changes = self.advance(now)
        if self.phase.running:
            return Outcome(False, AckReason.ALREADY_RUNNING, tuple(changes), seq=self.seq)
        self.calculation_id = self.new_id()
        self.phase = Phase.STARTING
        self.stage = 0
        self.started_by = by
        self.ended_by = None
        self.progress = None
        self.message = None
        self.exit_code = None
        self.canceling_by = None
        self._report_due = None
        self._started_at = self._stage_started_at = now
        changes.append(self._changed(now))
        return Outcome(True, None, tuple(changes), seq=self.seq)

    def cancel(self, now: float, by: str, calculation_id: str | None = None) -> Outcome:
        """Cancel the running calculation (or the one named, if it is the running one)."""
        changes = self.advance(now)
        if not self.phase.running:
            return Outcome(False, AckReason.NOT_RUNNING, tuple(changes), seq=self.seq)
        if calculation_id is not None and calculation_id != self.calculation_id:
            return Outcome(False, AckReason.STALE_CALCULATION, tuple(changes), seq=self.seq)
        if self.timed:
            self._end(now, Phase.CANCELED, by)
        elif self.canceling_by is None:
            self.canceling_by = by  # CANCELED comes with the job's exit
        else:
            return Outcome(True, None, tuple(changes), seq=self.seq)  # already under way
        changes.append(self._changed(now))
        return Outcome(True, None, tuple(changes), seq=self.seq)

    def job_event(self, now: float, calculation_id: str, event: JobEvent) -> list[State]:
        """What the job running ``calculation_id`` told: its stage, progress, message, end.

        Events of another run, or of a run that already ended, change nothing.
        """
        if self.timed or calculation_id != self.calculation_id or not self.phase.running:
            return []
        match event:
            case Started():
                return self._enter(now, 1) if self.stage == 0 else []
            case Report() as report:
                return self._reported(now, report)
            case Exited() as exited:
                return self._exited(now, exited)
        return []

    def fail(self, now: float, reason: str) -> list[State]:
        """Mark the running calculation FAILED (the server hit an unexpected error)."""
        if not self.phase.running:
            return []
        self._end(now, Phase.FAILED, reason)
        return [self._changed(now)]

    # --- internals -----------------------------------------------------------------------

    def _enter(self, now: float, stage: int) -> list[State]:
        self.stage = stage
        self.phase = _STAGE_PHASES[stage]
        self._stage_started_at = now
        self._report_due = None
        return [self._changed(now)]

    def _reported(self, now: float, report: Report) -> list[State]:
        if report.progress is not None:
            self.progress = report.progress
        if report.message is not None:
            self.message = report.message
        almost = report.stage == "ALMOST_DONE" or (self.progress or 0.0) >= ALMOST_DONE_AT
        if self.stage < 2 and almost:
            return [*(self._enter(now, 1) if self.stage == 0 else []), *self._enter(now, 2)]
        if self.stage == 0:
            return self._enter(now, 1)
        if now >= self._published_at + REPORT_INTERVAL:
            self._report_due = None
            return [self._changed(now)]
        self._report_due = self._published_at + REPORT_INTERVAL
        return []

    def _publish_due_report(self, now: float) -> list[State]:
        if self._report_due is None or now < self._report_due or not self.phase.running:
            return []
        self._report_due = None
        return [self._changed(now)]

    def _exited(self, now: float, exited: Exited) -> list[State]:
        self._report_due = None
        self.exit_code = exited.exit_code if exited.signal is None else -exited.signal
        if exited.message is not None:
            self.message = shorten(" ".join(exited.message.split()))
        canceled_by = self.canceling_by
        self.canceling_by = None
        self._frozen_elapsed = max(now - self._stage_started_at, 0.0)
        if canceled_by is not None or exited.canceled:
            self.phase = Phase.CANCELED
            self.ended_by = canceled_by or SHUTDOWN
        elif exited.succeeded:
            self.phase, self.stage, self.progress = Phase.SUCCESS, STAGES, 1.0
            self._frozen_elapsed = 0.0
        else:
            self.phase = Phase.FAILED
            self.ended_by = exited.describe()
        return [self._changed(now)]

    def _end(self, now: float, phase: Phase, by: str) -> None:
        if self.timed:
            stage_start = self._started_at + self.stage * self.stage_duration
            self._frozen_elapsed = min(max(now - stage_start, 0.0), self.stage_duration)
        else:
            self._frozen_elapsed = max(now - self._stage_started_at, 0.0)
            self._report_due = None
            self.canceling_by = None
        self.phase = phase
        self.ended_by = by

    def _changed(self, now: float) -> State:
        self.seq += 1
        self._published_at = now
        return self.snapshot(now)
