"""Text that came from a server, made safe to print on a terminal."""

from __future__ import annotations

import re
import unicodedata

_HIDDEN = frozenset({"Cc", "Cf"})
"""Control and format characters (zero-width, joiners, bidi): invisible or repainting."""
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def plain(text: str, limit: int = 200) -> str:
    """One line of plain text: control, format and bidi characters removed, length capped.

    Escape sequences and newlines from a peer can otherwise repaint or forge what a user
    sees; callers still pass the result as plain content, never as markup.
    """
    cleaned = "".join(
        " " if ch in "\t\n\r" else ch
        for ch in text
        if ch in "\t\n\r" or (unicodedata.category(ch) not in _HIDDEN and ch not in _BIDI_CONTROLS)
    )
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


_ID = r"(?:[A-Za-z0-9_.-]{1,64}/)?c\d{1,12}"
"""A client id: ``c12``; in a cluster it names its node too (``node-1/c12``)."""
_CLIENT_ID = re.compile(rf" \(({_ID})\)$")
"""The `` (c12)`` the server appends to a client's name in ``started_by``/``ended_by``."""
_BARE_ID = re.compile(_ID)


def cells(text: str) -> int:
    """How many terminal cells ``text`` takes: wide characters two, combining marks none."""
    return sum(
        0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        for ch in text
    )


def fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal cells, with an ellipsis when cut."""
    if cells(text) <= width:
        return text
    while text and cells(text) > width - 1:
        text = text[:-1]
    return text + "…"


def who(label: str, width: int = 40) -> str:
    """A ``started_by``/``ended_by`` label, made plain, in at most ``width`` cells, with the
    client id always whole.

    Only the name is shortened: a long (or wide) name must not push the id out of sight, or
    a client named "alice (c1)" plus padding could pass for client c1.
    """
    if _BARE_ID.fullmatch(label):
        return label  # a client without a name: its id is all there is, never cut
    found = _CLIENT_ID.search(label)
    if found is None:
        return fit(plain(label, width), width)
    suffix = f" ({found.group(1)})"
    return fit(plain(label[: found.start()], width), max(width - cells(suffix), 1)) + suffix


# Escape sequences as ECMA-48 frames them: a kept SGR is one of these, everything else is dropped
# whole (not just its ESC), so no half of a sequence reaches the screen as text either.
_ESCAPE = re.compile(
    r"""
      \x1b\[[0-?]*[ -/]*[@-~]                    # CSI: cursor moves, erase (2J), SGR colours
    | \x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?  # OSC: titles, hyperlinks, clipboard; to BEL/ST
    | \x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)?     # DCS, SOS, PM, APC strings
    | \x1b[ -/]*[0-~]?                           # any other escape, or a lone ESC
    | \x9b[0-?]*[ -/]*[@-~]                      # 8-bit CSI
    | [\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?  # 8-bit strings
    """,
    re.VERBOSE,
)
_SGR = re.compile(r"\x1b\[[0-9;:]*m")


def terminal_safe(text: str, *, colors: bool = False) -> str:
    """A job's output line made safe for a terminal: no escape sequence, control or bidi char.

    With ``colors``, SGR sequences (colours, bold) are kept and everything else still goes:
    cursor moves, screen clears, title and clipboard sets, hyperlinks, BEL. Tabs stay.
    """
    parts: list[str] = []
    start = 0
    for found in _ESCAPE.finditer(text):
        parts.append(_printable(text[start : found.start()]))
        if colors and _SGR.fullmatch(found.group()):
            parts.append(found.group())
        start = found.end()
    parts.append(_printable(text[start:]))
    return "".join(parts)


def _printable(text: str) -> str:
    if text.isprintable():
        return text  # the common case, checked in C
    return "".join(
        ch
        for ch in text
        if ch == "\t" or (unicodedata.category(ch) != "Cc" and ch not in _BIDI_CONTROLS)
    )
