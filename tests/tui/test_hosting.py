"""Issue 17 item 1: the app that serves says so, and asks before quitting ends others' work.

Real servers on loopback; the hosting app is built as ``calc-tui --serve`` builds it
(``serving=True``); that quitting then stops the server is tested in test_serve_process.py.
"""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import Static

from calc_tui.app import CalcApp, make_app
from calc_tui.screens.quit_screen import QuitScreen
from calc_tui.widgets.serving_banner import ServingBanner
from tests.conftest import ServerFactory
from tests.tui.helpers import FAST_BACKOFF, is_connected, live_app, wait_for

SIZE = (80, 24)


def host_of(url: str) -> CalcApp:
    return make_app(url, backoff=FAST_BACKOFF, name="host", serving=True)


async def start_a_run_with_another_watching(app: CalcApp, pilot: Pilot[None]) -> None:
    """Wait until ``app`` and one other client are connected, then start a run from ``app``."""
    await wait_for(pilot, lambda: is_connected(app) and app.clients == 2, what="both")
    await pilot.press("s")
    await wait_for(pilot, lambda: app.calc is not None and app.calc.state.running)


def dialog_text(app: CalcApp) -> str:
    return "\n".join(str(s.render()) for s in app.screen.query(Static) if s.id != "answers")


async def test_the_host_shows_its_address_and_how_many_others_are_connected(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory()
    host = host_of(server.url)
    async with host.run_test(size=SIZE) as ph:
        banner = host.query_one(ServingBanner)
        await wait_for(ph, lambda: host.clients == 1, what="the host alone")
        assert str(banner.render()) == f"Serving 127.0.0.1:{server.port} to no one else"
        other = live_app(server.url, name="other")
        async with other.run_test(size=SIZE):
            await wait_for(ph, lambda: host.clients == 2, what="the other client counted")
            assert str(banner.render()) == f"Serving 127.0.0.1:{server.port} to 1 other"
        await wait_for(ph, lambda: host.clients == 1, what="the other gone")
        assert str(banner.render()).endswith("to no one else")


async def test_an_app_that_does_not_serve_shows_no_banner(server_factory: ServerFactory) -> None:
    server = await server_factory()
    app = live_app(server.url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: is_connected(app), what="connected")
        assert not app.query(ServingBanner)


async def test_quitting_the_host_during_a_run_with_others_asks_and_says_what_happens(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(stage_seconds=30)
    host = host_of(server.url)
    other = live_app(server.url, name="other")
    async with host.run_test(size=SIZE) as ph, other.run_test(size=SIZE):
        await start_a_run_with_another_watching(host, ph)
        assert host.calc is not None
        calc_id = host.calc.calculation_id

        await ph.press("q")
        await wait_for(ph, lambda: isinstance(host.screen, QuitScreen), what="the question")
        text = dialog_text(host)
        assert f"the running calculation {calc_id} is canceled for everyone" in text
        assert "1 other client is disconnected" in text

        await ph.press("enter")  # focus starts on Stay: a stray Enter ends nothing
        await wait_for(ph, lambda: not isinstance(host.screen, QuitScreen), what="stayed")
        assert host.return_code is None
        assert host.calc is not None
        assert host.calc.state.running

        await ph.press("ctrl+c")
        await wait_for(ph, lambda: isinstance(host.screen, QuitScreen), what="asked again")
        await ph.press("y")
        await wait_for(ph, lambda: host.return_code == 0, what="the host quits")


async def test_quitting_the_host_alone_and_idle_does_not_ask(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory()
    host = host_of(server.url)
    async with host.run_test(size=SIZE) as ph:
        await wait_for(ph, lambda: is_connected(host) and host.clients == 1, what="alone")
        assert host.quit_consequences() == []
        await ph.press("q")
        await wait_for(ph, lambda: host.return_code == 0, what="quit at once")


async def test_a_client_that_does_not_serve_quits_at_once_during_a_run(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(stage_seconds=30)
    app = live_app(server.url)
    other = live_app(server.url, name="other")
    async with app.run_test(size=SIZE) as pilot, other.run_test(size=SIZE):
        await start_a_run_with_another_watching(app, pilot)
        await pilot.press("q")
        await wait_for(pilot, lambda: app.return_code == 0, what="quit without asking")
