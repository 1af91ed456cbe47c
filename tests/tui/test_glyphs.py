"""Issue 17 item 10: plain terminals (TERM=linux, TERM=screen) get ASCII, not braille or
rounded boxes; NO_COLOR still turns colour off."""

from __future__ import annotations

import pytest
from textual.widgets import Header

from calc_tui.app import make_app
from calc_tui.glyphs import ASCII, UNICODE, glyphs_for
from calc_tui.widgets.connection_indicator import ConnectionIndicator
from calc_tui.widgets.progress_panel import ProgressPanel
from calc_tui.widgets.spinner import Spinner
from protocol import Phase
from tests.tui.helpers import URL
from tests.tui.test_small_terminals import feed_a_run, shown_text


@pytest.mark.parametrize("term", ["linux", "screen", "vt100", "dumb"])
def test_plain_terminals_get_ascii(term: str) -> None:
    assert glyphs_for({"TERM": term}) is ASCII


@pytest.mark.parametrize("term", ["xterm-256color", "screen-256color", "tmux-256color", ""])
def test_capable_terminals_get_unicode(term: str) -> None:
    assert glyphs_for({"TERM": term}) is UNICODE


def test_ascii_glyphs_are_ascii() -> None:
    for name in ASCII.__slots__:
        value = getattr(ASCII, name)
        if isinstance(value, str):
            assert value.isascii(), name


async def test_on_the_linux_console_nothing_drawn_is_beyond_ascii_but_textuals_own() -> None:
    app = make_app(
        URL,
        connect=False,
        clock=lambda: 1000.0,
        animate=False,
        glyphs=glyphs_for({"TERM": "linux"}),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await feed_a_run(app, pilot)
        app.query_one(Spinner).spinning = True
        await pilot.pause()
        panel = app.query_one(ProgressPanel)
        assert app.has_class("-ascii")
        assert panel.styles.border_top[0] == "ascii"
        for part in ("#steps", "#bar-row", "#times", "#detail"):
            assert shown_text(panel.query_one(part)).isascii(), part
        assert shown_text(app.query_one(ConnectionIndicator)) == "* connected"
        assert shown_text(app.query_one(Spinner)) in ASCII.spinner
        assert app.calc is not None
        assert app.calc.state is Phase.IN_PROGRESS
        assert app.query_one(Header).icon == "*"


async def test_unicode_terminals_keep_rounded_boxes() -> None:
    app = make_app(URL, connect=False, clock=lambda: 1000.0, animate=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.query_one(ProgressPanel).styles.border_top[0] == "round"
        assert not app.has_class("-ascii")


async def test_no_color_still_turns_colour_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(URL, connect=False, animate=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.no_color
        assert app.has_pseudo_class("nocolor")
