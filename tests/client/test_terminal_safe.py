"""Job output is untrusted: nothing it holds reaches a terminal as a control sequence."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.text import Text

from calc_client.text import terminal_safe

HOSTILE = [
    ("\x1b]0;owned title\x07after", "after"),  # OSC title set, BEL-terminated
    ("\x1b]2;title\x1b\\after", "after"),  # OSC, ST-terminated
    ("\x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\", "link"),  # OSC 8 hyperlink
    ("\x1b]52;c;cm0gLXJmIH4=\x07x", "x"),  # OSC 52 clipboard write
    ("\x1b[2J\x1b[Hwiped", "wiped"),  # clear screen, cursor home
    ("a\x1b[10;20Hb\x1b[3Ac", "abc"),  # cursor moves
    ("ring\x07\x07", "ring"),  # BEL
    ("\u202eevil\u202c \u2066iso\u2069", "evil iso"),  # bidi override and isolate
    ("\x1bP+q544e\x1b\\dcs", "dcs"),  # DCS request
    ("\x9b2J8bit", "8bit"),  # 8-bit CSI
    ("back\x08\x08space\x7f", "backspace"),  # BS, DEL
    ("unterminated \x1b]0;title", "unterminated "),
    ("lone escape\x1b", "lone escape"),
    ("\x1bcreset", "reset"),  # RIS
]


@pytest.mark.parametrize(("hostile", "shown"), HOSTILE)
def test_every_escape_and_control_is_dropped(hostile: str, shown: str) -> None:
    assert terminal_safe(hostile) == shown
    assert terminal_safe(hostile, colors=True) == shown


def test_colours_are_kept_only_when_asked() -> None:
    line = "\x1b[1;31mred\x1b[0m \x1b[38;5;208mamber\x1b[m\x1b[2J"
    assert terminal_safe(line) == "red amber"
    assert terminal_safe(line, colors=True) == "\x1b[1;31mred\x1b[0m \x1b[38;5;208mamber\x1b[m"


def test_rich_renders_the_kept_colours_as_styles_not_text() -> None:
    text = Text.from_ansi(terminal_safe("\x1b]0;t\x07\x1b[31mred\x1b[0m ok\x1b[5;5H", colors=True))
    assert text.plain == "red ok"
    [span] = text.spans
    assert (span.start, span.end, str(span.style)) == (0, 3, "color(1)")  # ANSI red


def test_plain_text_and_tabs_pass_unchanged() -> None:
    assert terminal_safe("epoch 3/30\tloss 0.213 — café ✓") == "epoch 3/30\tloss 0.213 — café ✓"


_SGR = re.compile(r"\x1b\[[0-9;:]*m")


@given(st.text(alphabet=st.sampled_from("\x1b\x07\x9b\x9c[];0123456789mHJP\\ab\t\u202e\x00")))
def test_no_control_character_survives_except_tabs_and_kept_colours(text: str) -> None:
    for colors in (False, True):
        safe = _SGR.sub("", terminal_safe(text, colors=colors)) if colors else terminal_safe(text)
        assert all(ch == "\t" or unicodedata.category(ch) != "Cc" for ch in safe), repr(safe)
        assert "\u202e" not in safe
