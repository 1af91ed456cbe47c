"""The app connected to a newer server shows its state and skips what it does not know."""

from __future__ import annotations

from protocol import Phase
from tests.newer_server import newer_server
from tests.tui.helpers import Toasts, is_connected, live_app, wait_for


async def test_the_app_reads_past_an_unknown_message_type() -> None:
    async with newer_server() as url:
        app = live_app(url)
        toasts = Toasts()
        async with app.run_test(size=(80, 24), message_hook=toasts) as pilot:
            await wait_for(pilot, lambda: is_connected(app), what="connected")
            assert app.calc is not None
            assert app.calc.state is Phase.IDLE
            assert app.clients == 1
            assert toasts.seen == []  # nothing was reported as an error
