"""Plain words for the screen: server text made safe, rejections explained, durations."""

from __future__ import annotations

import unicodedata

_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

_REJECTIONS = {
    "already_running": "A calculation is already running",
    "not_running": "Nothing is running to cancel",
    "stale_calculation": "That calculation has already ended",
    "rate_limited": "Too many commands; slow down",
}


def plain(text: str, limit: int = 200) -> str:
    """Server text fit for one line: control and bidi characters removed, length capped.

    Callers still pass it as plain content (never as markup), so brackets stay literal.
    """
    cleaned = "".join(
        " " if ch in "\t\n\r" else ch
        for ch in text
        if ch in "\t\n\r" or (unicodedata.category(ch) != "Cc" and ch not in _BIDI_CONTROLS)
    )
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def describe_rejection(reason: str | None) -> str:
    """Why the server refused a command, in plain words."""
    if not reason:
        return "The server refused the command"
    known = _REJECTIONS.get(reason)
    if known:
        return known
    words = plain(reason).replace("_", " ").strip()
    return f"The server refused the command: {words}" if words else "The server refused it"


def seconds(value: float) -> str:
    """A duration for humans: ``4.2s`` under a minute, ``1:05`` above."""
    if value < 60:
        return f"{value:.1f}s"
    minutes, secs = divmod(int(value), 60)
    return f"{minutes}:{secs:02d}"
