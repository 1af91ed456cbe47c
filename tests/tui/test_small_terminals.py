"""Issue 17 items 2 and 3: down to 40x12 the connection, state and progress stay on screen,
nothing opens scrolled, every footer key has its label, and text wraps instead of being cut."""

from __future__ import annotations

import pytest
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from calc_client.reconnect import Connected, Connecting, Disconnected
from calc_tui.app import CalcApp
from calc_tui.messages import ConnectionReported
from calc_tui.widgets.connection_indicator import ConnectionIndicator
from calc_tui.widgets.event_log import EventLog
from calc_tui.widgets.progress_panel import ProgressPanel
from protocol import Phase
from tests.tui.helpers import fed_app, received, state, wait_for, welcome

SIZES = [(40, 12), (60, 20), (80, 24), (120, 40)]
# Long enough to wrap at 60 columns, short enough (40 cells) to be shown whole in the log.
LONG_NAME = "calc-tui@a-long-host-name.example (c1)"


def shown_text(widget: Widget) -> str:
    """What the widget draws on screen, its wrapped lines joined with spaces."""
    lines = widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))
    return " ".join(" ".join(strip.text.split()) for strip in lines).strip()


def on_screen(app: CalcApp, widget: Widget) -> bool:
    """Drawn in full inside the terminal (not scrolled away, not hidden, not squeezed)."""
    region = widget.region
    return (
        widget.display
        and widget.visible
        and region.height > 0
        and app.screen.region.contains_region(region)
    )


async def feed_a_run(
    app: CalcApp, pilot: Pilot[None], started_by: str = "calc-tui@laptop (c1)"
) -> None:
    """Post a connection and a run into its second stage; return once it is on screen."""
    app.post_message(ConnectionReported(Connecting(1)))
    app.post_message(ConnectionReported(Connected(welcome(clients=2))))
    app.post_message(received(state(Phase.IDLE, 0)))
    app.post_message(received(state(Phase.STARTING, 1, started_by=started_by)))
    app.post_message(
        received(state(Phase.IN_PROGRESS, 2, stage=1, stage_elapsed=0.8, started_by=started_by))
    )
    await wait_for(pilot, lambda: app.calc is not None and app.calc.seq == 2, what="the run")
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
async def test_connection_state_and_progress_are_on_screen_and_nothing_scrolled(
    size: tuple[int, int],
) -> None:
    app = fed_app()
    async with app.run_test(size=size) as pilot:
        await feed_a_run(app, pilot)
        panel = app.query_one(ProgressPanel)
        indicator = app.query_one(ConnectionIndicator)
        assert on_screen(app, indicator)
        assert shown_text(indicator) == "● connected"
        state_line = panel.query_one("#heading" if size[1] < 20 else "#steps")
        assert on_screen(app, state_line)
        assert "IN_PROGRESS" in shown_text(state_line) + str(panel.border_title)
        assert on_screen(app, panel.query_one("#bar-row"))
        assert on_screen(app, panel.query_one("#times"))
        assert shown_text(panel.query_one("#times")).startswith("elapsed 2.8s")
        for key in ("up", "pageup", "home", "shift+tab"):  # nothing to bring back
            await pilot.press(key)
        assert app.screen.scroll_offset.y == 0
        assert on_screen(app, indicator)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
async def test_every_footer_key_shows_its_label(size: tuple[int, int]) -> None:
    app = fed_app()
    async with app.run_test(size=size) as pilot:
        await feed_a_run(app, pilot)
        footer = app.query_one(Footer)
        keys = [key for key in footer.query(FooterKey) if key.display]
        labels = {key.key_display or key.key: key.description for key in keys}
        assert {"c", "?", "q"} <= set(labels)
        for key in keys:
            assert key.description, f"{key.key} has no label"
            assert footer.region.contains_region(key.region), f"{key.key} is cut off"


async def test_event_lines_wrap_and_rewrap_after_a_resize() -> None:
    app = fed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await feed_a_run(app, pilot, started_by=LONG_NAME)
        log = app.query_one(EventLog)
        await wait_for(pilot, lambda: len(log.lines) >= 4, what="the events")
        await pilot.resize_terminal(60, 20)
        await wait_for(pilot, lambda: log.size.width < 60, what="the narrower log")
        await pilot.pause()
        width = log.scrollable_content_region.width
        assert all(strip.cell_length <= width for strip in log.lines)
        assert not log.show_horizontal_scrollbar
        # every character is there, wrapped or folded onto the next line, none cut off
        text = "".join("".join(strip.text.split()) for strip in log.lines)
        assert "".join(f"started by {LONG_NAME}".split()) in text
        await pilot.resize_terminal(40, 12)
        await pilot.pause()
        assert not log.show_horizontal_scrollbar


@pytest.mark.parametrize("size", [(40, 12), (80, 24)], ids=lambda size: f"{size[0]}x{size[1]}")
async def test_why_the_connection_failed_is_shown_in_full(size: tuple[int, int]) -> None:
    app = fed_app()
    async with app.run_test(size=size) as pilot:
        reason = "cannot connect: Connection refused"
        app.post_message(ConnectionReported(Connecting(1)))
        app.post_message(ConnectionReported(Disconnected(reason, 1, 5.0)))
        indicator = app.query_one(ConnectionIndicator)
        await wait_for(pilot, lambda: app.link_status.reason == reason)
        await pilot.pause()
        assert shown_text(indicator).endswith(f"(attempt 2, retry in 5s): {reason}")
        assert on_screen(app, indicator)


async def test_who_started_it_is_shown_in_full_in_the_panel_at_40_columns() -> None:
    app = fed_app()
    async with app.run_test(size=(40, 12)) as pilot:
        await feed_a_run(app, pilot)
        detail = app.query_one(ProgressPanel).query_one("#detail")
        assert shown_text(detail) == "3f9c2a7d41b0 started by calc-tui@laptop (c1)"
        assert on_screen(app, detail)
