"""Issue 17 item 6: offline, the panel says it shows the last known state and since when; the
texts never contradict each other; a restart leaves its line in the Events log."""

from __future__ import annotations

from calc_client.reconnect import Connected, Connecting, Disconnected
from calc_tui.app import make_app
from calc_tui.messages import ConnectionReported
from calc_tui.status import ConnectionStatus
from calc_tui.widgets.event_log import EventLog
from calc_tui.widgets.progress_panel import ProgressPanel
from protocol import Phase
from tests.conftest import ServerFactory
from tests.tui.helpers import FAST_BACKOFF, fed_app, received, state, wait_for, welcome
from tests.tui.test_small_terminals import shown_text


def panel_texts(panel: ProgressPanel) -> dict[str, str]:
    parts = ("heading", "times", "notice", "detail")
    texts = {part: shown_text(panel.query_one(f"#{part}")) for part in parts}
    texts["title"] = str(panel.border_title)
    return texts


async def test_offline_the_panel_says_last_known_and_since_when_then_live_again() -> None:
    clock = ["12:00:00"]
    app = make_app(
        "ws://127.0.0.1:8765/ws",
        connect=False,
        clock=lambda: 1000.0,
        wall_clock=lambda: clock[0],
        animate=False,
    )
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(ProgressPanel)
        app.post_message(ConnectionReported(Connected(welcome())))
        app.post_message(received(state(Phase.IN_PROGRESS, 2, stage=1, stage_elapsed=0.5)))
        await wait_for(pilot, lambda: app.calc is not None)
        await pilot.pause()
        live = panel_texts(panel)
        assert live["title"] == "Calculation: IN_PROGRESS"
        assert "remaining" in live["times"]
        assert not panel.has_class("-stale")
        assert not panel.query_one("#notice").display

        clock[0] = "12:03:07"
        app.post_message(ConnectionReported(Disconnected("connection lost", 0, 1.0)))
        await wait_for(pilot, lambda: app.offline_since is not None)
        clock[0] = "12:03:09"  # a later failed retry does not move "since"
        app.post_message(ConnectionReported(Connecting(1)))
        app.post_message(ConnectionReported(Disconnected("cannot connect: refused", 1, 1.0)))
        await wait_for(pilot, lambda: app.link_status.reason == "cannot connect: refused")
        await pilot.pause()
        stale = panel_texts(panel)
        assert stale["title"] == "Calculation: IN_PROGRESS (last known)"
        assert stale["notice"] == "Last known: offline since 12:03:07"
        assert panel.query_one("#notice").display
        assert "remaining" not in stale["times"]  # nobody knows it while offline
        assert stale["times"].startswith("elapsed ")

        app.post_message(ConnectionReported(Connected(welcome(client_id="c2"))))
        app.post_message(received(state(Phase.IN_PROGRESS, 3, stage=1, stage_elapsed=1.0)))
        await wait_for(pilot, lambda: app.calc is not None and app.calc.seq == 3)
        await pilot.pause()
        assert not panel.has_class("-stale")
        assert panel_texts(panel)["title"] == "Calculation: IN_PROGRESS"


async def test_wrong_token_status_and_panel_agree(server_factory: ServerFactory) -> None:
    server = await server_factory(no_auth=False, token="right")
    app = make_app(server.url, backoff=FAST_BACKOFF, token="wrong")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.link_status.link is ConnectionStatus.OFFLINE)
        await pilot.pause()
        detail = shown_text(app.query_one(ProgressPanel).query_one("#detail"))
        assert "authentication failed" in app.link_status.describe()
        assert detail == "Nothing known yet: not connected."
        assert "Waiting" not in detail


async def test_before_the_first_answer_the_panel_waits_for_the_server() -> None:
    app = fed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        app.post_message(ConnectionReported(Connecting(1)))
        await pilot.pause()
        detail = shown_text(app.query_one(ProgressPanel).query_one("#detail"))
        assert detail == "Waiting for the server…"


async def test_idle_while_offline_does_not_invite_a_start() -> None:
    app = fed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        app.post_message(ConnectionReported(Connected(welcome())))
        app.post_message(received(state(Phase.IDLE, 0)))
        app.post_message(ConnectionReported(Disconnected("connection lost", 0, 1.0)))
        await wait_for(pilot, lambda: not app.link_status.connected and app.calc is not None)
        await pilot.pause()
        assert shown_text(app.query_one(ProgressPanel).query_one("#detail")) == (
            "No calculation yet."
        )


async def test_a_restart_leaves_an_interrupted_line_in_the_events_log() -> None:
    app = fed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        app.post_message(ConnectionReported(Connected(welcome())))
        app.post_message(received(state(Phase.IN_PROGRESS, 7, stage=1)))
        app.post_message(ConnectionReported(Disconnected("connection lost", 1, 0.1)))
        app.post_message(ConnectionReported(Connected(welcome(epoch="epoch-2"))))
        app.post_message(received(state(Phase.IDLE, 0, epoch="epoch-2")))
        await wait_for(pilot, lambda: app.calc is not None and app.calc.epoch == "epoch-2")
        lines = [" ".join(strip.text.split()) for strip in app.query_one(EventLog).lines]
        assert "12:00:00 server restarted: calculation 3f9c2a7d41b0 was interrupted" in lines
