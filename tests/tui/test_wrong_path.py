"""A URL with the wrong path: refused once with a hint at /ws, not retried in a loop."""

from __future__ import annotations

import pytest
from textual.message import Message

from calc_client.reconnect import Connecting
from calc_tui.app import make_app
from calc_tui.messages import ConnectionReported
from calc_tui.status import ConnectionStatus
from tests.conftest import ServerFactory
from tests.tui.helpers import FAST_BACKOFF, Toasts, wait_for


async def test_a_wrong_path_is_shown_once_with_the_right_one_and_r_tries_again(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory()
    attempts: list[int] = []
    toasts = Toasts()

    def record(message: Message) -> None:
        toasts(message)
        if isinstance(message, ConnectionReported) and isinstance(message.event, Connecting):
            attempts.append(message.event.attempt)

    url = server.url.removesuffix("/ws") + "/nope"
    app = make_app(url, backoff=FAST_BACKOFF)
    async with app.run_test(size=(80, 24), message_hook=record) as pilot:
        await wait_for(
            pilot, lambda: app.link_status.link is ConnectionStatus.OFFLINE, what="offline"
        )
        described = app.link_status.describe()
        assert "HTTP 404" in described
        assert "/ws" in described
        # the toast is a message of its own, handled after the status changed: wait for it
        await wait_for(
            pilot,
            lambda: any("/ws" in text for text in toasts.titled("Not connected")),
            what="a toast naming /ws",
        )
        # with a 0.05 s backoff a retry loop would make several attempts in this time
        with pytest.raises(AssertionError, match="timed out"):
            await wait_for(pilot, lambda: len(attempts) > 1, timeout=0.5)
        await pilot.press("r")
        await wait_for(pilot, lambda: len(attempts) == 2, what="a second attempt on r")
        await wait_for(
            pilot, lambda: app.link_status.link is ConnectionStatus.OFFLINE, what="offline again"
        )
