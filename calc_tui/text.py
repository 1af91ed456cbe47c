"""Plain words for the screen: server text made safe, rejections explained, durations."""

from __future__ import annotations

from calc_client.text import plain

__all__ = ["describe_rejection", "plain", "seconds"]

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


def seconds(value: float) -> str:
    """A duration for humans: ``4.2s`` under a minute, ``1:05`` above."""
    if value < 60:
        return f"{value:.1f}s"
    minutes, secs = divmod(int(value), 60)
    return f"{minutes}:{secs:02d}"
