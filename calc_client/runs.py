"""How a run from the server's history reads for people: when, how long, how it ended.

Shared by ``calc history`` and the TUI's History view. Every text that came from the server
goes through ``plain`` here, so no caller prints a control sequence by forgetting to.
"""

from __future__ import annotations

import time

from calc_client import text
from calc_client.text import plain
from protocol import Run


def started(run: Run) -> str:
    """The local date and time the run started: ``2025-06-01 14:03:07``."""
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.started_at))
    except (OverflowError, OSError, ValueError):  # a time no calendar holds
        return "?"


def duration(run: Run) -> str:
    """How long the run took (``6.0s``, ``2m05s``, ``1h02m``), or ``-`` while it is open."""
    if run.ended_at is None:
        return "-"
    seconds = max(run.ended_at - run.started_at, 0.0)
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    if seconds < 360_000:
        return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"
    return f"{seconds / 86400:.0f}d"


def outcome(run: Run) -> str:
    """``SUCCESS``, ``CANCELED``, ``FAILED``, ``INTERRUPTED`` (or a newer one), or ``running``."""
    return plain(run.outcome, 16) if run.outcome else "running"


def who(name: str | None, limit: int = 32) -> str:
    """A client label or reason from the server, safe to print (a client id never cut);
    ``-`` when there is none."""
    return text.who(name, limit) if name else "-"


def stage_times(run: Run) -> str:
    """Seconds per stage: ``2.0s, 2.0s, 1.4s``."""
    return ", ".join(f"{s:.1f}s" for s in run.stage_seconds) or "-"
