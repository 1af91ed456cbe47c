"""Any message the schema admits never crashes calc-tui: generated messages fed to its handlers.

Hypothesis draws the messages (edges included: 1e308 seconds, huge counts, escape sequences);
one app then receives them all through the handlers a connection uses, redrawing after each.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calc_client.reconnect import Connected, Disconnected
from calc_tui.messages import ConnectionReported
from calc_tui.text import seconds
from protocol import Phase, ServerMessage, Welcome
from tests.client.server_messages import server_messages
from tests.tui.helpers import received, state, welcome


def draw_messages(count: int) -> list[ServerMessage]:
    """``count`` messages drawn by hypothesis (its own edge cases first)."""
    drawn: list[ServerMessage] = []

    @settings(
        max_examples=count, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(server_messages)
    def collect(message: ServerMessage) -> None:
        drawn.append(message)

    collect()
    return drawn


@given(st.floats(min_value=0, allow_nan=False, allow_infinity=True))
def test_seconds_formats_any_duration(value: float) -> None:
    assert len(seconds(value)) <= 12


async def test_generated_server_messages_never_crash_the_app() -> None:
    from tests.tui.helpers import fed_app

    now = [1000.0]
    app = fed_app(clock=lambda: now[0])
    messages = [
        state(Phase.IN_PROGRESS, 1, stage=1, stage_duration=1e308),  # the reported crash
        state(Phase.CANCELED, 2, stage=3, stage_elapsed=1e308, stage_duration=1e308),
        *draw_messages(60),
    ]
    async with app.run_test(size=(80, 24)) as pilot:
        app.post_message(ConnectionReported(Connected(welcome())))
        for i, message in enumerate(messages):
            if isinstance(message, Welcome):
                app.post_message(ConnectionReported(Connected(message)))
            else:
                app.post_message(received(message))
            if i % 20 == 0:
                app.post_message(ConnectionReported(Disconnected("lost \x1b[2J", 1, 1e308)))
                app.post_message(ConnectionReported(Connected(welcome())))
            now[0] += 0.5
            await pilot.pause()
            assert app.is_running, f"crashed on message {i}: {message!r}"
    assert app.return_code in (None, 0)
