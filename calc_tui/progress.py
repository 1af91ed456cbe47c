"""Where the calculation is now, interpolated from the last snapshot.

Pure: the caller passes how many seconds of its own monotonic clock have passed since the
snapshot arrived, so the wall clock never enters and tests need no real time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from protocol import Phase, State


@dataclass(frozen=True, slots=True)
class Progress:
    """The whole run as a fraction, with elapsed and remaining seconds (None when unknown)."""

    fraction: float
    elapsed: float | None
    remaining: float | None


IDLE = Progress(0.0, None, None)


def progress_at(state: State, since: float) -> Progress:
    """The progress ``since`` seconds after ``state`` arrived (0 for a stopped calculation).

    A job's stages are not timed (``stage_duration`` 0): its bar is the ``progress`` it
    reported, and there is no elapsed or remaining time to tell.
    """
    stages = max(state.stages, 1)
    duration = state.stage_duration
    total = stages * duration
    if state.state is Phase.IDLE:
        return IDLE
    if duration <= 0:
        reported = 1.0 if state.state is Phase.SUCCESS else (state.progress or 0.0)
        return Progress(min(max(reported, 0.0), 1.0), None, None)
    if not total < math.inf:
        return IDLE  # a server's durations too large to compute with
    if state.state is Phase.SUCCESS:
        return Progress(1.0, total, None)
    in_stage = state.stage_elapsed
    if state.state.running:
        in_stage += max(since, 0.0)
    in_stage = min(max(in_stage, 0.0), duration)
    stage = min(state.stage, stages)
    elapsed = min(stage * duration + in_stage, total)
    remaining = total - elapsed if state.state.running else None
    return Progress(elapsed / total, elapsed, remaining)
