"""The app against a server that wants a token: refused once, no retry loop, `r` tries again."""

from __future__ import annotations

from calc_client.reconnect import Connecting
from calc_tui.app import make_app
from calc_tui.messages import ConnectionReported
from calc_tui.status import ConnectionStatus
from tests.conftest import ServerFactory
from tests.tui.helpers import FAST_BACKOFF, Toasts, is_connected, wait_for

TOKEN = "tui-test-token"


async def test_wrong_token_is_shown_as_authentication_failed_and_not_retried(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(no_auth=False, token=TOKEN)
    attempts: list[int] = []

    def record(message: object) -> None:
        if isinstance(message, ConnectionReported) and isinstance(message.event, Connecting):
            attempts.append(message.event.attempt)

    app = make_app(server.url, backoff=FAST_BACKOFF, token="wrong")
    async with app.run_test(size=(80, 24), message_hook=record) as pilot:
        await wait_for(
            pilot, lambda: app.link_status.link is ConnectionStatus.OFFLINE, what="offline"
        )
        assert app.link_status.describe() == "offline: authentication failed (press r to retry)"
        # with a 0.05 s backoff a retry loop would make several attempts in this time (a busy
        # machine only makes the pause longer)
        await pilot.pause(0.5)
        assert attempts == [1]
        await pilot.press("r")
        await wait_for(pilot, lambda: len(attempts) == 2, what="a second attempt on r")
        await wait_for(
            pilot, lambda: app.link_status.link is ConnectionStatus.OFFLINE, what="offline again"
        )


async def test_right_token_connects(server_factory: ServerFactory) -> None:
    server = await server_factory(no_auth=False, token=TOKEN)
    app = make_app(server.url, backoff=FAST_BACKOFF, token=TOKEN)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: is_connected(app), what="connected")


async def test_insecure_says_so_when_the_app_starts(server_factory: ServerFactory) -> None:
    server = await server_factory()
    toasts = Toasts()
    app = make_app(server.url, backoff=FAST_BACKOFF, warning="--insecure: not verified")
    async with app.run_test(size=(80, 24), message_hook=toasts) as pilot:
        await wait_for(pilot, lambda: is_connected(app), what="connected")
        assert toasts.titled("Warning") == ["--insecure: not verified"]
