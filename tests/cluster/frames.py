"""Real ``state`` frames for the cluster tests, encoded with the protocol's own encoder."""

from __future__ import annotations

from protocol import Phase, State, encode


def state_frame(epoch: str, seq: int, *, by: str = "node-a") -> bytes:
    """The encoded ``state`` message a node would store as ``seq`` of ``epoch``."""
    running = seq % 2 == 1
    return encode(
        State(
            seq=seq,
            epoch=epoch,
            calculation_id=f"calc-{seq}" if running else None,
            state=Phase.STARTING if running else Phase.IDLE,
            stage=1 if running else 0,
            stage_elapsed=0.0,
            stage_duration=5.0,
            started_by=by if running else None,
        )
    )
