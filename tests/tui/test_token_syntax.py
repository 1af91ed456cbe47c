"""calc-tui with a token that cannot travel in a header: offline with the reason, no crash."""

from __future__ import annotations

from calc_tui.app import make_app
from calc_tui.status import ConnectionStatus
from tests.conftest import ServerFactory
from tests.tui.helpers import FAST_BACKOFF, wait_for


async def test_a_carriage_return_in_the_token_is_shown_not_crashed_on(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(no_auth=False, token="right")
    app = make_app(server.url, backoff=FAST_BACKOFF, token="tk\r")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(
            pilot, lambda: app.link_status.link is ConnectionStatus.OFFLINE, what="offline"
        )
        assert app.link_status.describe().startswith("offline: invalid token: the token contains")
        assert app.is_running
