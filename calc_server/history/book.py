"""The runs in progress, as a pure state machine: start, stage and end events in, records out.

Both stores keep one ``RunBook`` on the caller's side, so each event becomes a complete
``RunRecord`` at once and what is written is always a whole row, never a partial update.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import msgspec

from calc_server.history.records import OutputLine, RunOutcome, RunRecord, clip_tail


@dataclass(slots=True)
class _OpenRun:
    record: RunRecord
    stage: int
    stage_started_at: float


@dataclass(slots=True)
class RunBook:
    """Open runs by id, and how many runs this process ended, by outcome."""

    open: dict[str, _OpenRun] = field(default_factory=dict)
    ended: Counter[RunOutcome] = field(default_factory=Counter)

    def start(
        self, calculation_id: str, started_by: str, at: float, command: str | None
    ) -> RunRecord:
        """A run began at ``at`` (its stage 0)."""
        record = RunRecord(
            calculation_id=calculation_id, started_by=started_by, started_at=at, command=command
        )
        self.open[calculation_id] = _OpenRun(record, 0, at)
        return record

    def stage(self, calculation_id: str, stage: int, at: float) -> RunRecord | None:
        """The run entered ``stage`` at ``at``; None if it is not open or already there."""
        run = self.open.get(calculation_id)
        if run is None or stage <= run.stage:
            return None
        durations = list(run.record.stage_seconds)
        while run.stage < stage:
            # A jump over several stages at once gives the skipped ones zero seconds.
            durations.append(max(at - run.stage_started_at, 0.0))
            run.stage += 1
            run.stage_started_at = at
        run.record = msgspec.structs.replace(run.record, stage_seconds=tuple(durations))
        return run.record

    def end(
        self,
        calculation_id: str,
        outcome: RunOutcome,
        ended_by: str | None,
        at: float,
        *,
        exit_code: int | None,
        last_message: str | None,
        output_tail: tuple[OutputLine, ...] | list[OutputLine],
    ) -> RunRecord | None:
        """The run ended at ``at``; its current stage closes then. None if it is not open."""
        run = self.open.pop(calculation_id, None)
        if run is None:
            return None
        # The stage in progress ends with the run (a success is the end of its last stage).
        stages = (*run.record.stage_seconds, max(at - run.stage_started_at, 0.0))
        self.ended[outcome] += 1
        return msgspec.structs.replace(
            run.record,
            ended_at=max(at, run.record.started_at),
            outcome=outcome,
            ended_by=ended_by,
            stage_seconds=stages,
            exit_code=exit_code,
            last_message=last_message,
            output_tail=clip_tail(output_tail),
        )
