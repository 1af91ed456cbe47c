"""Shown by ``calc-tui --serve``: this app hosts the server, and how many others depend on it."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static


def others_text(clients: int | None) -> str:
    """``to 2 others``: who else is connected; this app's own connection is not one of them."""
    if clients is None:
        return "(others: unknown)"
    others = max(clients - 1, 0)
    if others == 0:
        return "to no one else"
    return f"to {others} other{'s' if others != 1 else ''}"


class ServingBanner(Static):
    """``Serving 127.0.0.1:8765 to 2 others``: this app runs the server others use."""

    DEFAULT_CSS = """
    ServingBanner {
        height: auto;
        padding: 0 1;
        color: $text-accent;
    }
    """

    clients: reactive[int | None] = reactive(None, repaint=False)
    """How many clients the server counts, this app included."""

    def __init__(self, address: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._address = address

    def watch_clients(self, clients: int | None) -> None:
        self.update(f"Serving {self._address} {others_text(clients)}")
