"""The shared calculation as a pure state machine.

No sockets, no event loop, no clock of its own: every method takes ``now`` (seconds on a
monotonic clock), so tests drive it with an injected clock and the server with the loop's.
It is the single writer of calculation state; each change comes back as a ``State`` snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import uuid4

from protocol import STAGES, AckReason, Phase, State

_STAGE_PHASES = (Phase.STARTING, Phase.IN_PROGRESS, Phase.ALMOST_DONE)

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

    Deadlines are ``started_at + k * stage_duration``, so lateness never accumulates. A
    transition whose deadline has passed counts as done even if no timer has fired yet, which
    makes a cancel racing the final transition resolve to exactly one terminal state.
    """

    epoch: str
    stage_duration: float
    new_id: Callable[[], str] = new_calculation_id
    seq: int = 0
    phase: Phase = Phase.IDLE
    stage: int = 0
    calculation_id: str | None = None
    started_by: str | None = None
    ended_by: str | None = None
    _started_at: float = 0.0
    _frozen_elapsed: float = 0.0

    def __post_init__(self) -> None:
        if not self.stage_duration > 0:
            raise ValueError("stage_duration must be positive")

    # --- queries -------------------------------------------------------------------------

    def deadline(self) -> float | None:
        """Monotonic time of the next transition, or None when nothing runs."""
        if not self.phase.running:
            return None
        return self._started_at + (self.stage + 1) * self.stage_duration

    def snapshot(self, now: float) -> State:
        """The full state as seen at ``now``."""
        if self.phase.running:
            stage_start = self._started_at + self.stage * self.stage_duration
            elapsed = min(max(now - stage_start, 0.0), self.stage_duration)
        else:
            elapsed = self._frozen_elapsed
        return State(
            seq=self.seq,
            epoch=self.epoch,
            calculation_id=self.calculation_id,
            state=self.phase,
            stage=self.stage,
            stages=STAGES,
            stage_elapsed=elapsed,
            stage_duration=self.stage_duration,
            started_by=self.started_by,
            ended_by=self.ended_by,
        )

    # --- commands ------------------------------------------------------------------------

    def advance(self, now: float) -> list[State]:
        """Apply every transition whose deadline is at or before ``now``."""
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
        self._started_at = now
        changes.append(self._changed(now))
        return Outcome(True, None, tuple(changes), seq=self.seq)

    def cancel(self, now: float, by: str, calculation_id: str | None = None) -> Outcome:
        """Cancel the running calculation (or the one named, if it is the running one)."""
        changes = self.advance(now)
        if not self.phase.running:
            return Outcome(False, AckReason.NOT_RUNNING, tuple(changes), seq=self.seq)
        if calculation_id is not None and calculation_id != self.calculation_id:
            return Outcome(False, AckReason.STALE_CALCULATION, tuple(changes), seq=self.seq)
        self._end(now, Phase.CANCELED, by)
        changes.append(self._changed(now))
        return Outcome(True, None, tuple(changes), seq=self.seq)

    def fail(self, now: float, reason: str) -> list[State]:
        """Mark the running calculation FAILED (the server hit an unexpected error)."""
        if not self.phase.running:
            return []
        self._end(now, Phase.FAILED, reason)
        return [self._changed(now)]

    # --- internals -----------------------------------------------------------------------

    def _end(self, now: float, phase: Phase, by: str) -> None:
        stage_start = self._started_at + self.stage * self.stage_duration
        self._frozen_elapsed = min(max(now - stage_start, 0.0), self.stage_duration)
        self.phase = phase
        self.ended_by = by

    def _changed(self, now: float) -> State:
        self.seq += 1
        return self.snapshot(now)
