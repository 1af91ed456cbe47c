"""The symbols calc-tui draws, and ASCII stand-ins for terminals that cannot draw them.

The Linux console (TERM=linux) and GNU screen's plain entry (TERM=screen) have no braille or
rounded corners in their fonts; there the app falls back to ASCII symbols and square borders.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

ASCII_TERMS = frozenset({"linux", "screen", "vt100", "vt102", "vt220", "ansi", "cons25", "dumb"})
"""TERM values whose usual fonts lack braille, rounded corners and most symbols."""


@dataclass(frozen=True, slots=True)
class Glyphs:
    """Every symbol the app draws itself (Textual's own widgets are styled through CSS)."""

    ascii: bool
    spinner: str
    """Frames of the busy spinner, one character each."""
    connected: str
    connecting: str
    reconnecting: str
    offline: str
    done: str
    """A stage that is over, and SUCCESS."""
    current: str
    """The stage that is running."""
    stopped: str
    """The stage a run was canceled or failed in."""
    ended: str
    """CANCELED or FAILED."""
    ellipsis: str


UNICODE = Glyphs(
    ascii=False,
    spinner="⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏",
    connected="●",
    connecting="○",
    reconnecting="◌",
    offline="✗",
    done="✓",
    current="▸",
    stopped="✗",
    ended="✘",
    ellipsis="…",
)

ASCII = Glyphs(
    ascii=True,
    spinner="|/-\\",
    connected="*",
    connecting="o",
    reconnecting="~",
    offline="x",
    done="+",
    current=">",
    stopped="x",
    ended="x",
    ellipsis="...",
)


def glyphs_for(env: Mapping[str, str] = os.environ) -> Glyphs:
    """ASCII for the plain terminals in ``ASCII_TERMS``, else the Unicode symbols."""
    return ASCII if env.get("TERM", "") in ASCII_TERMS else UNICODE
