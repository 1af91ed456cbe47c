"""The sane range of each numeric server setting: absurd values are refused at start.

``--stage-seconds 1e308`` made every client's arithmetic overflow (three stages of it are
infinite, which JSON cannot even carry); a heartbeat of a microsecond would ping in a loop.
"""

from __future__ import annotations

from typing import Any

BOUNDS: dict[str, tuple[str, float, float]] = {
    "stage_seconds": ("--stage-seconds", 0.01, 86_400.0),
    "heartbeat": ("--heartbeat", 0.1, 86_400.0),
    "max_connections": ("--max-connections", 1, 1_000_000),
    "handshake_timeout": ("handshake timeout", 0.01, 3_600.0),
    "behind_timeout": ("behind timeout", 0.01, 3_600.0),
    "lease_seconds": ("--lease-seconds", 0.01, 3_600.0),
    "workers": ("--workers", 1, 1_024),
}
"""Setting name: (how the user gives it, lowest, highest), both ends included."""


def out_of_bounds(settings: Any) -> str | None:
    """A one-line reason naming the first setting outside its range, or None."""
    for name, (flag, low, high) in BOUNDS.items():
        value = getattr(settings, name)
        if not low <= value <= high:  # also False for NaN
            return f"{flag} must be between {low:g} and {high:g}, got {value:g}"
    return None
