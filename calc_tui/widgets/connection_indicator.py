"""Connection indicator: connected, reconnecting (attempt, next try) or offline (reason)."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from calc_tui.glyphs import UNICODE, Glyphs
from calc_tui.status import STARTING_UP, ConnectionStatus, LinkStatus


class ConnectionIndicator(Static):
    """Shows the connection state; its CSS class says which one (``-connected`` etc.).

    It wraps rather than cuts: the reason for being offline is the line that matters most.
    """

    DEFAULT_CSS = """
    ConnectionIndicator {
        width: 1fr;
        height: auto;
        max-height: 3;
        color: $text-muted;
        &.-connected { color: $text-success; }
        &.-connecting { color: $text-warning; }
        &.-reconnecting { color: $text-warning; }
        &.-offline { color: $text-error; text-style: bold; }
    }
    """

    status: reactive[LinkStatus] = reactive(STARTING_UP, repaint=False)
    """What to show; set by the app from connection messages."""

    def __init__(self, *, glyphs: Glyphs = UNICODE, id: str | None = None) -> None:
        super().__init__(id=id)
        self._icons = {
            ConnectionStatus.CONNECTED: glyphs.connected,
            ConnectionStatus.CONNECTING: glyphs.connecting,
            ConnectionStatus.RECONNECTING: glyphs.reconnecting,
            ConnectionStatus.OFFLINE: glyphs.offline,
        }
        self._ellipsis = glyphs.ellipsis

    def watch_status(self, status: LinkStatus) -> None:
        for link in ConnectionStatus:
            self.set_class(status.link is link, f"-{link.value}")
        text = status.describe().replace("…", self._ellipsis)
        self.update(Content(f"{self._icons[status.link]} {text}"))
