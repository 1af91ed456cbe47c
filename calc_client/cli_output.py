"""What the ``calc`` command prints: one short human line per state, or the protocol JSON."""

from __future__ import annotations

import time

from calc_client.text import plain, terminal_safe
from protocol import AckReason, Phase, ServerMessage, State, encode

_REASONS: dict[str, str] = {
    AckReason.ALREADY_RUNNING: "a calculation is already running",
    AckReason.NOT_RUNNING: "no calculation is running",
    AckReason.STALE_CALCULATION: "that calculation is no longer running",
}


def message_json(message: ServerMessage) -> str:
    """The exact protocol message (``state``, ``ack``, ...), as one line of JSON."""
    return encode(message).decode()


def say(line: str) -> None:
    """Print a human line, flushed: server text in it is made safe for the terminal."""
    print(plain(line, limit=1000), flush=True)


def say_json(message: ServerMessage) -> None:
    """Print the protocol message exactly, flushed (JSON already escapes control characters)."""
    print(message_json(message), flush=True)


def describe_state(state: State) -> str:
    """One line a person can read: state, stage, time, calculation id, who started or ended it."""
    phase = state.state
    if phase is Phase.IDLE:
        return "IDLE, no calculation has run yet"
    if state.stage_duration <= 0:
        return _describe_job_state(state)
    stage = f"stage {min(state.stage + 1, state.stages)}/{state.stages}"
    elapsed = state.stage * state.stage_duration + state.stage_elapsed
    parts = [phase.value]
    if phase.running:
        total = state.stages * state.stage_duration
        parts.append(f"{stage}, {elapsed:.1f}s elapsed, {max(total - elapsed, 0.0):.1f}s left")
    elif phase is Phase.SUCCESS:
        parts.append(f"took {state.stages * state.stage_duration:.1f}s")
    else:
        parts.append(f"at {stage} after {elapsed:.1f}s")
    parts.append(f"calculation {state.calculation_id}")
    if state.started_by:
        parts.append(f"started by {state.started_by}")
    if state.ended_by and phase is Phase.CANCELED:
        parts.append(f"canceled by {state.ended_by}")
    elif state.ended_by and phase is Phase.FAILED:
        parts.append(f"failed: {state.ended_by}")
    return ", ".join(parts)


def _describe_job_state(state: State) -> str:
    """A job's state: its stages are not timed, so its progress and how it ended instead."""
    parts = [state.state.value]
    if state.progress is not None and not state.state.terminal:
        parts.append(f"{state.progress:.0%}")
    if state.canceling:
        parts.append("canceling")
    parts.append(f"calculation {state.calculation_id}")
    if state.started_by:
        parts.append(f"started by {state.started_by}")
    if state.ended_by and state.state is Phase.CANCELED:
        parts.append(f"canceled by {state.ended_by}")
    elif state.ended_by and state.state is Phase.FAILED:
        parts.append(f"failed: {state.ended_by}")
        if state.message:
            parts.append(terminal_safe(state.message))  # the job's text: untrusted
    return ", ".join(parts)


def timestamped(line: str) -> str:
    """``line`` prefixed with the local wall-clock time, for ``watch`` logs."""
    return f"{time.strftime('%H:%M:%S')} {line}"


def describe_rejection(command: str, reason: str | None, state: State | None) -> str:
    """Why the server refused ``command``, with the state that explains it when known."""
    code = reason or "rejected"
    words = _REASONS.get(code)
    line = f"{command} rejected: {code}" + (f" ({words})" if words else "")
    if state is not None and state.calculation_id is not None:
        line += f"; calculation {state.calculation_id} is {state.state.value}"
        if state.started_by and state.state.running:
            line += f", started by {state.started_by}"
    return line


def describe_end(state: State) -> str:
    """Why ``start --wait`` ends with exit code 3: the calculation was canceled or failed."""
    verb = "failed" if state.state is Phase.FAILED else "was canceled"
    by = f" by {state.ended_by}" if state.ended_by and state.state is Phase.CANCELED else ""
    why = f": {state.ended_by}" if state.ended_by and state.state is Phase.FAILED else ""
    return f"calculation {state.calculation_id} {verb}{by}{why}"
