"""The pure Calculation rebuilt from a stored state, so any node can decide the next change.

A stored ``state`` frame and the wall-clock time it was decided at say everything the state
machine needs: the phase, the stage and where the run's grid lies (``stage_elapsed`` was
measured at that time). The cluster runs its Calculations on the wall clock, the one clock
every node shares.
"""

from __future__ import annotations

import msgspec

from calc_server.calculation import Calculation
from calc_server.cluster.record import StateRecord
from protocol import State

_decoder = msgspec.json.Decoder(State)


def state_of(record: StateRecord) -> State:
    """The ``state`` message a record's frame holds (``msgspec.DecodeError`` if it holds none)."""
    return _decoder.decode(record.frame)


def restore(
    state: State,
    decided_at: float | None,
    *,
    stage_seconds: float,
    now: float,
    timed: bool = True,
    canceling_by: str | None = None,
) -> Calculation:
    """The Calculation that ``state`` is a snapshot of, taken at ``decided_at`` (wall clock).

    An unknown ``decided_at`` (a record written without one) is taken as ``now``: the running
    stage then seems to have begun ``stage_elapsed`` ago, the best guess there is. A stopped
    calculation gets ``stage_seconds`` as the length of the stages its next start will run,
    and ``timed`` says what that start runs (the built-in timer, or this node's job). A running
    one is a job's run when its stages have no duration; ``canceling_by`` is who asked it to
    stop (the stored state only says that someone did).
    """
    running = state.state.running
    job_run = running and state.stage_duration <= 0
    calculation = Calculation(
        epoch=state.epoch,
        stage_duration=state.stage_duration if running and not job_run else stage_seconds,
        timed=not job_run if running else timed,
        seq=state.seq,
        phase=state.state,
        stage=state.stage,
        calculation_id=state.calculation_id,
        started_by=state.started_by,
        ended_by=state.ended_by,
        progress=state.progress if job_run else None,
        message=state.message,
        exit_code=state.exit_code,
        canceling_by=(canceling_by or "someone") if job_run and state.canceling else None,
    )
    at = now if decided_at is None else decided_at
    if job_run:
        calculation._stage_started_at = at - state.stage_elapsed
    elif running:
        calculation._started_at = at - state.stage_elapsed - state.stage * state.stage_duration
    else:
        calculation._frozen_elapsed = state.stage_elapsed
    return calculation
