"""The thin I/O shell around the pure Calculation: loop timers in, broadcasts out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from calc_server.calculation import SHUTDOWN, Calculation, Outcome
from calc_server.hub import Hub
from calc_server.metrics import Metrics
from calc_server.run_history import RunHistory
from protocol import State, encode

log = logging.getLogger("calc_server.calculation")


class CalculationService:
    """Owns the Calculation, arms one timer for its next deadline, and publishes changes.

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
    ) -> None:
        self.calculation = calculation
        self._history = history
        self._hub = hub
        self._metrics = metrics
        self._clock = clock
        self._timer: asyncio.TimerHandle | None = None

    def snapshot(self) -> State:
        """The current state."""
        return self.calculation.snapshot(self._clock())

    def start(self, by: str) -> Outcome:
        """Start a calculation on behalf of ``by``."""
        return self._apply(lambda now: self.calculation.start(now, by))

    def cancel(self, by: str, calculation_id: str | None) -> Outcome:
        """Cancel the running calculation on behalf of ``by``."""
        return self._apply(lambda now: self.calculation.cancel(now, by, calculation_id))

    def shutdown(self) -> None:
        """Cancel whatever runs because the server is stopping, and disarm the timer."""
        self._apply(lambda now: self.calculation.cancel(now, SHUTDOWN))
        self._disarm()

    def _apply(self, command: Callable[[float], Outcome]) -> Outcome:
        try:
            outcome = command(self._clock())
        except Exception:
            self._failed()
            raise
        self._publish(outcome.changes)
        self._arm()
        return outcome

    def _on_deadline(self) -> None:
        self._timer = None
        try:
            changes = self.calculation.advance(self._clock())
        except Exception:
            self._failed()
            return
        self._publish(changes)
        self._arm()

    def _failed(self) -> None:
        log.exception("calculation failed unexpectedly")
        self._disarm()
        self._publish(self.calculation.fail(self._clock(), "server error"))

    def _publish(self, changes: Iterable[State]) -> None:
        for state in changes:
            self._metrics.state_changes += 1
            self._hub.broadcast_state(encode(state))
            self._history.observe(state)  # after the fan-out; queues, never waits on disk
            # logged after the fan-out: formatting a log line is not worth a client's wait
            log.info(
                "state %s seq=%d calculation=%s%s",
                state.state.value,
                state.seq,
                state.calculation_id,
                f" ended_by={state.ended_by}" if state.ended_by else "",
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
