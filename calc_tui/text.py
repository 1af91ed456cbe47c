"""Plain words for the screen: server text made safe, rejections explained, durations."""

from __future__ import annotations

import re

from rich.cells import cell_len

from calc_client.text import plain

__all__ = ["describe_rejection", "plain", "seconds", "who"]

_CLIENT_ID = re.compile(r" \((c\d{1,12})\)$")
"""The `` (c12)`` the server appends to a client's name in ``started_by``/``ended_by``."""

_REJECTIONS = {
    "already_running": "A calculation is already running",
    "not_running": "Nothing is running to cancel",
    "stale_calculation": "That calculation has already ended",
    "rate_limited": "Too many commands; slow down",
}


def describe_rejection(reason: str | None) -> str:
    """Why the server refused a command, in plain words."""
    if not reason:
        return "The server refused the command"
    known = _REJECTIONS.get(reason)
    if known:
        return known
    words = plain(reason).replace("_", " ").strip()
    return f"The server refused the command: {words}" if words else "The server refused it"


def who(label: str, width: int = 40) -> str:
    """A ``started_by``/``ended_by`` label in at most ``width`` cells, client id always whole.

    Only the name is shortened: a long (or wide) name must not push the id out of sight, or
    a client named "alice (c1)" plus padding could pass for client c1.
    """
    found = _CLIENT_ID.search(label)
    if found is None:
        return _fit(plain(label, width), width)
    suffix = f" ({found.group(1)})"
    name = _fit(plain(label[: found.start()], width), max(width - cell_len(suffix), 1))
    return name + suffix


def _fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal cells, with an ellipsis when cut."""
    if cell_len(text) <= width:
        return text
    while text and cell_len(text) > width - 1:
        text = text[:-1]
    return text + "…"


def seconds(value: float) -> str:
    """A duration for humans: ``4.2s`` under a minute, ``1:05`` above, ``>99:59:59`` beyond.

    The value comes from the server: a huge or infinite one must not overflow or fill a line.
    """
    if not value >= 0:  # NaN or negative
        return "?"
    if value < 60:
        return f"{value:.1f}s"
    if value >= _LONGEST:
        return ">99:59:59"
    minutes, secs = divmod(int(value), 60)
    if minutes < 60:
        return f"{minutes}:{secs:02d}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


_LONGEST = 100 * 3600.0
"""Durations from here on are all shown alike."""
