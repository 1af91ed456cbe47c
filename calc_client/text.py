"""Text that came from a server, made safe to print on a terminal."""

from __future__ import annotations

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
