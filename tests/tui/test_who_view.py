"""Issue 17 item 8: the Who view (key w) lists the connected clients from the server's ``who``,
marks this app, and follows clients coming and going; the presence count stays as it was."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.widgets import TabbedContent

from calc_client.reconnect import Connected, Disconnected
from calc_tui.app import CalcApp
from calc_tui.messages import ConnectionReported
from calc_tui.widgets.presence import PresenceCount
from calc_tui.widgets.who_view import WhoView
from protocol import ConnectedClient, Phase, Welcome, WhoAnswer
from tests.conftest import ServerFactory
from tests.tui.helpers import fed_app, is_connected, live_app, received, state, wait_for, welcome
from tests.tui.test_small_terminals import shown_text

SIZE = (80, 24)


def offering_who(clients: int) -> ConnectionReported:
    """A connection to a server whose welcome offers ``who``."""
    welcome = Welcome(
        protocol=1, server="0.1.0", epoch="e", client_id="c1", clients=clients, features=["who"]
    )
    return ConnectionReported(Connected(welcome))


def names(app: CalcApp) -> list[str | None]:
    answer = app.query_one(WhoView).answer
    return [] if answer is None else [client.name for client in answer.clients]


async def test_w_shows_who_is_connected_and_follows_leaves(server_factory: ServerFactory) -> None:
    server = await server_factory()
    alice = live_app(server.url, name="alice@laptop")
    bob = live_app(server.url, name="bob@desk")
    async with alice.run_test(size=SIZE) as pa:
        await wait_for(pa, lambda: is_connected(alice), what="alice")
        async with bob.run_test(size=SIZE) as pb:
            await wait_for(pb, lambda: is_connected(bob), what="bob")
            await wait_for(pa, lambda: alice.clients == 2, what="alice counts bob")
            await pa.press("w")
            assert alice.query_one("#views", TabbedContent).active == "who"
            await wait_for(pa, lambda: names(alice) == ["alice@laptop", "bob@desk"], what="both")
            view = alice.query_one(WhoView)
            text = shown_text(view.query_one("#who-list"))
            assert text.startswith("2 connected")
            assert "alice@laptop (you)" in text
            assert "bob@desk (you)" not in text
            assert str(alice.query_one(PresenceCount).render()) == "2 clients connected"
        await wait_for(pa, lambda: names(alice) == ["alice@laptop"], what="bob gone from the list")
        await pa.press("e")
        assert alice.query_one("#views", TabbedContent).active == "events"


async def test_a_server_without_who_is_said_plainly() -> None:
    app = fed_app()
    async with app.run_test(size=SIZE) as pilot:
        app.post_message(ConnectionReported(Connected(welcome())))  # no features
        app.post_message(received(state(Phase.IDLE, 0)))
        await wait_for(pilot, lambda: app.calc is not None)
        await pilot.press("w")
        await pilot.pause()
        text = shown_text(app.query_one(WhoView).query_one("#who-list"))
        assert text == "This server does not say who is connected."


async def test_names_from_the_server_are_shown_as_plain_text() -> None:
    app = fed_app()
    hostile = WhoAnswer(
        request_id="c1-1",
        clients=[
            ConnectedClient(
                client_id="c1\x1b[2J",
                name="[b]eve[/b]\x1b[31m\x07",
                connected_at=datetime(2025, 6, 1, 9, 0, tzinfo=UTC),
            )
        ],
        total=5,
    )
    async with app.run_test(size=SIZE) as pilot:
        app.post_message(offering_who(clients=5))
        await pilot.press("w")
        app.post_message(received(hostile))
        view = app.query_one(WhoView)
        await wait_for(pilot, lambda: view.answer is not None)
        await pilot.pause()
        text = shown_text(view.query_one("#who-list"))
        assert "\x1b" not in text
        assert "\x07" not in text
        assert "[b]eve[/b][31m" in text
        assert text.startswith("5 connected, the first 1 shown")


async def test_offline_the_list_is_not_shown_as_if_current() -> None:
    app = fed_app()
    answer = WhoAnswer(
        request_id="c1-1",
        clients=[ConnectedClient(client_id="c1", connected_at=datetime(2025, 6, 1, tzinfo=UTC))],
        total=1,
    )
    async with app.run_test(size=SIZE) as pilot:
        app.post_message(offering_who(clients=1))
        await pilot.press("w")
        app.post_message(received(answer))
        view = app.query_one(WhoView)
        await wait_for(pilot, lambda: view.answer is not None)
        app.post_message(ConnectionReported(Disconnected("connection lost", 0, 1.0)))
        await wait_for(pilot, lambda: not app.link_status.connected)
        await pilot.pause()
        assert shown_text(view.query_one("#who-list")).startswith("Not connected")
