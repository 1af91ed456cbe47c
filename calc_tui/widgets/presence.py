"""How many clients are watching the calculation."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static


class PresenceCount(Static):
    """``3 clients connected``; blank until the server has said."""

    DEFAULT_CSS = """
    PresenceCount {
        width: auto;
        height: 1;
        color: $text-muted;
        padding: 0 0 0 2;
    }
    """

    clients: reactive[int | None] = reactive(None, repaint=False)
    """Count from ``welcome`` and ``presence``; None before the first connection."""

    def watch_clients(self, clients: int | None) -> None:
        if clients is None:
            self.update("")
        elif clients == 1:
            self.update("1 client connected (you)")
        else:
            self.update(f"{clients} clients connected")
