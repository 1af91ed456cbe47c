"""The connection as the user sees it: connecting, connected, reconnecting or offline."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from calc_tui.text import plain


class ConnectionStatus(enum.Enum):
    """The four things the connection indicator can say."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """One state of the connection, with what the indicator needs to describe it."""

    link: ConnectionStatus
    attempt: int = 0
    """While connecting: this attempt's number. While waiting: how many have failed."""
    retry_in: float | None = None
    reason: str = ""

    @property
    def connected(self) -> bool:
        """True while commands can be sent."""
        return self.link is ConnectionStatus.CONNECTED

    def describe(self) -> str:
        """One line for the indicator, in plain words."""
        reason = plain(self.reason, 120)
        match self.link:
            case ConnectionStatus.CONNECTED:
                return "connected"
            case ConnectionStatus.CONNECTING:
                return "connecting…"
            case ConnectionStatus.RECONNECTING:
                if self.retry_in is None:
                    return f"reconnecting (attempt {self.attempt})…"
                # ``attempt`` counts the failures so far; the next try is one more.
                text = f"reconnecting (attempt {self.attempt + 1}, retry in {_wait(self.retry_in)})"
                return f"{text}: {reason}" if reason else text
            case ConnectionStatus.OFFLINE:
                return f"offline: {reason or 'refused'} (press r to retry)"
        raise AssertionError(self.link)  # pragma: no cover


def _wait(seconds: float) -> str:
    """``0.4s`` under a second, whole seconds (rounded up) above."""
    return f"{seconds:.1f}s" if seconds < 1 else f"{math.ceil(seconds)}s"


STARTING_UP = LinkStatus(ConnectionStatus.CONNECTING, attempt=1)
"""Before the first attempt has reported anything."""
