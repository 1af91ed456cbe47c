"""Issue 17 items 4 and 5: focus on the action that fits, help on ? and F1, the command palette
with the app's commands, and quit keys that agree (q, ctrl+q, ctrl+c)."""

from __future__ import annotations

from textual.command import CommandList, CommandPalette
from textual.widgets import Button, Static, TabbedContent

from calc_tui.app import CalcApp
from calc_tui.screens.help_screen import HelpScreen
from calc_tui.widgets.event_log import EventLog
from protocol import Phase
from tests.conftest import ServerFactory
from tests.tui.helpers import Toasts, fed_app, is_connected, live_app, received, state, wait_for
from tests.tui.test_small_terminals import feed_a_run, shown_text

SIZE = (80, 24)


def focused_id(app: CalcApp) -> str | None:
    return app.focused.id if app.focused is not None else None


async def test_enter_after_launch_starts_and_enter_again_cancels(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(stage_seconds=30)
    app = live_app(server.url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: is_connected(app), what="connected")
        await wait_for(pilot, lambda: focused_id(app) == "start", what="Start focused")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.calc is not None and app.calc.state.running)
        await wait_for(pilot, lambda: focused_id(app) == "cancel", what="Cancel focused")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.calc is not None and app.calc.state is Phase.CANCELED)
        await wait_for(pilot, lambda: focused_id(app) == "start", what="Start focused again")


async def test_while_disconnected_reconnect_has_focus(server_factory: ServerFactory) -> None:
    server = await server_factory()
    url = server.url
    await server.stop()
    app = live_app(url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.link_status.attempt >= 2, what="a failed attempt")
        await wait_for(pilot, lambda: focused_id(app) == "reconnect", what="Reconnect focused")
        assert app.query_one("#start", Button).disabled


async def test_focus_the_user_moved_elsewhere_stays_there() -> None:
    app = fed_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed_a_run(app, pilot)
        await wait_for(pilot, lambda: focused_id(app) == "cancel", what="Cancel focused")
        log = app.query_one(EventLog)
        log.focus()
        app.post_message(received(state(Phase.SUCCESS, 3, stage=3)))
        await wait_for(pilot, lambda: app.calc is not None and app.calc.seq == 3)
        await pilot.pause()
        assert app.focused is log


async def test_question_mark_and_f1_open_help_with_keys_and_states() -> None:
    app = fed_app()
    async with app.run_test(size=SIZE) as pilot:
        for key in ("question_mark", "f1"):
            await pilot.press(key)
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
            text = "\n".join(shown_text(s) for s in app.screen.query(Static))
            for word in ("ctrl+p", "ctrl+c", "reconnecting", "offline", "IN_PROGRESS", "CANCELED"):
                assert word in text
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen), what="closed")


async def test_ctrl_c_quits_like_q_without_a_toast_about_another_key() -> None:
    toasts = Toasts()
    app = fed_app()
    async with app.run_test(size=SIZE, message_hook=toasts) as pilot:
        await feed_a_run(app, pilot)
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: app.return_code == 0, what="quit")
    assert toasts.texts == []


async def test_the_palette_runs_the_apps_commands(server_factory: ServerFactory) -> None:
    server = await server_factory(stage_seconds=30)
    app = live_app(server.url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: is_connected(app), what="connected")

        async def run(command: str) -> None:
            await pilot.press("ctrl+p")
            await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
            await pilot.press(*command)
            await wait_for(
                pilot,
                lambda: app.screen.query_one(CommandList).option_count > 0,
                what=f"a match for {command!r}",
            )
            await pilot.press("enter")
            await wait_for(pilot, lambda: not isinstance(app.screen, CommandPalette))

        # short queries: while a run ticks, the pilot waits up to a second per key
        await run("who")
        assert app.query_one("#views", TabbedContent).active == "who"
        await run("events")
        assert app.query_one("#views", TabbedContent).active == "events"
        await run("start")
        await wait_for(pilot, lambda: app.calc is not None and app.calc.state.running)
        await run("copy")
        assert app.calc is not None
        assert app.clipboard == app.calc.calculation_id
        await run("cancel")
        await wait_for(pilot, lambda: app.calc is not None and app.calc.state is Phase.CANCELED)
        await run("quit")
        await wait_for(pilot, lambda: app.return_code == 0, what="quit")
