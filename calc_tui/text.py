"""Plain words for the screen: server text made safe, refusals and errors explained, durations."""

from __future__ import annotations

from calc_client.text import plain, who
from protocol import AckReason, ErrorCode

__all__ = [
    "CLUSTER_DEGRADED",
    "CLUSTER_HEALTHY",
    "describe_error",
    "describe_rejection",
    "plain",
    "seconds",
    "who",
]


_REJECTIONS: dict[str, str] = {
    AckReason.ALREADY_RUNNING: "A calculation is already running",
    AckReason.NOT_RUNNING: "Nothing is running to cancel",
    AckReason.STALE_CALCULATION: "That calculation has already ended",
    AckReason.BACKPLANE_UNAVAILABLE: "The server cannot reach the rest of its cluster right now",
}

_ERRORS: dict[str, str] = {
    ErrorCode.RATE_LIMITED: "Too many commands; slow down",
}
"""Errors said in our own words; the others show the server's ``message``."""


def describe_rejection(reason: str | None) -> str:
    """Why the server refused a command (``ack.reason``), in plain words."""
    if not reason:
        return "The server refused the command"
    known = _REJECTIONS.get(reason)
    if known:
        return known
    words = plain(reason).replace("_", " ").strip()
    return f"The server refused the command: {words}" if words else "The server refused it"


CLUSTER_DEGRADED = (
    "The server lost contact with the rest of its cluster: what you see may be out of date, "
    "and start and cancel are unavailable until it is back."
)
"""What a ``cluster`` message with ``degraded: true`` means, in plain words."""

CLUSTER_HEALTHY = "The server is back in contact with its cluster."
"""What a ``cluster`` message with ``degraded: false`` means."""


def describe_error(code: str, message: str) -> str:
    """What an ``error`` from the server means, in plain words (never empty)."""
    return _ERRORS.get(code) or plain(message) or plain(code) or "unknown error"


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
