"""What travels in a benchmark: the state message every server broadcasts, and its seq."""

from __future__ import annotations

from protocol import STAGES, Phase, State, encode

_SEQ = b'"seq":'


def seq_of(payload: bytes) -> int:
    """The ``seq`` of a state message (compact or ``json.dumps`` spacing), else -1.

    A byte search instead of a decode keeps the receiver's cost per message small and equal
    for every server.
    """
    i = payload.find(_SEQ)
    if i < 0:
        return -1
    i += len(_SEQ)
    while payload[i : i + 1] == b" ":
        i += 1
    j = i
    while payload[j : j + 1].isdigit():
        j += 1
    return int(payload[i:j]) if j > i else -1


def sample_state(seq: int) -> State:
    """A state message as the server sends it mid-calculation."""
    return State(
        seq=seq,
        epoch="5f0c3e1a9b7d2c44",
        calculation_id="d785406b2baf",
        state=Phase.IN_PROGRESS,
        stage=1,
        stages=STAGES,
        stage_elapsed=0.731,
        stage_duration=2.0,
        started_by="bench (c1)",
    )


def sample_payload(seq: int) -> bytes:
    """The encoded bytes of ``sample_state(seq)``."""
    return encode(sample_state(seq))
