"""Any message the schema admits never crashes calc's printers, and prints as plain text."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from calc_client.cli_history import table
from calc_client.cli_output import (
    describe_end,
    describe_rejection,
    describe_state,
    message_json,
    timestamped,
)
from calc_client.text import plain
from protocol import Ack, History, Phase, ServerMessage, State
from tests.client.server_messages import server_messages

HUGE = State(
    seq=1,
    epoch="e",
    calculation_id="c",
    state=Phase.IN_PROGRESS,
    stage=1,
    stage_elapsed=1e308,
    stage_duration=1e308,
)


def human(line: str) -> str:
    """What calc prints for a human line (``cli_commands._say``)."""
    return plain(line, limit=1000)


@settings(max_examples=300, deadline=None)
@given(server_messages, st.sampled_from(["start", "cancel"]))
@example(HUGE, "start")
@example(Ack(request_id="r", accepted=False, reason="\x1b[31mno\u202e", seq=0), "cancel")
def test_printers_survive_every_admitted_message(message: ServerMessage, command: str) -> None:
    lines: list[str] = []
    assert message_json(message).startswith("{")  # --json prints it as it came
    assert "\n" not in message_json(message)
    if isinstance(message, State):
        lines += [describe_state(message), timestamped(describe_state(message))]
        if message.state.terminal:
            lines.append(describe_end(message))
    if isinstance(message, Ack):
        lines.append(describe_rejection(command, message.reason, None))
    for line in lines:
        shown = human(line)
        assert "\x1b" not in shown
        assert "\n" not in shown
        assert len(shown) <= 1000
    if isinstance(message, History):
        # calc history prints its table as it is: every cell must already be plain
        rows = table(message.runs).split("\n")
        assert len(rows) == len(message.runs) + 1
        assert not any(ch in row for row in rows for ch in "\x1b\r\u202e\u200b")
