"""A server stopped and restarted on the same port: the app notices, waits, resyncs."""

from __future__ import annotations

from calc_client.reconnect import Backoff
from calc_tui.app import make_app
from calc_tui.status import ConnectionStatus
from calc_tui.widgets.connection_indicator import ConnectionIndicator
from calc_tui.widgets.progress_panel import ProgressPanel
from protocol import Phase
from tests.conftest import ServerFactory
from tests.tui.helpers import Toasts, is_connected, live_app, wait_for


async def test_server_restart_reconnects_and_resyncs(server_factory: ServerFactory) -> None:
    server = await server_factory(stage_seconds=0.3)
    port = server.port
    app = live_app(server.url)
    toasts = Toasts()
    async with app.run_test(size=(80, 24), message_hook=toasts) as pilot:
        await wait_for(pilot, lambda: is_connected(app), what="connected")
        await pilot.press("s")
        await wait_for(pilot, lambda: app.calc is not None and app.calc.state is Phase.SUCCESS)
        assert app.calc is not None
        old_epoch, old_id = app.calc.epoch, app.calc.calculation_id
        indicator = app.query_one(ConnectionIndicator)
        panel = app.query_one(ProgressPanel)
        assert indicator.has_class("-connected")

        await server.stop()
        await wait_for(pilot, lambda: indicator.has_class("-reconnecting"), what="reconnecting")
        assert app.link_status.link is ConnectionStatus.RECONNECTING
        assert "reconnecting (attempt" in str(indicator.render())
        # The last known state stays on screen, dimmed.
        assert app.calc is not None
        assert app.calc.calculation_id == old_id
        assert panel.has_class("-stale")

        await server_factory(port=port, stage_seconds=0.3)
        await wait_for(pilot, lambda: indicator.has_class("-connected"), what="connected again")
        await wait_for(pilot, lambda: app.calc is not None and app.calc.epoch != old_epoch)

        assert toasts.titled("Server restarted") == ["The server restarted."]
        assert app.calc is not None
        assert app.calc.state is Phase.IDLE
        assert app.calc.seq == 0
        assert not panel.has_class("-stale")
        assert str(indicator.render()) == "● connected"


async def test_reconnect_now_skips_the_wait(server_factory: ServerFactory) -> None:
    server = await server_factory()
    port = server.port
    patient = Backoff(base=60.0, cap=60.0, rng=lambda low, high: high)  # always a minute
    app = make_app(server.url, backoff=patient)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: is_connected(app), what="connected")
        await server.stop()
        await wait_for(pilot, lambda: (app.link_status.retry_in or 0) > 50, what="a long wait")
        await server_factory(port=port)
        assert app.check_action("reconnect", ()) is True
        await pilot.press("r")
        # at once, not after the minute the backoff asked for
        await wait_for(pilot, lambda: is_connected(app), timeout=20, what="reconnected")
        assert app.check_action("reconnect", ()) is False  # connected: not in the footer
