"""Connection indicator: connected, reconnecting (attempt, next try) or offline (reason)."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from calc_tui.status import STARTING_UP, ConnectionStatus, LinkStatus

_ICONS = {
    ConnectionStatus.CONNECTED: "●",
    ConnectionStatus.CONNECTING: "○",
    ConnectionStatus.RECONNECTING: "◌",
    ConnectionStatus.OFFLINE: "✗",
}


class ConnectionIndicator(Static):
    """Shows the connection state; its CSS class says which one (``-connected`` etc.)."""

    DEFAULT_CSS = """
    ConnectionIndicator {
        width: 1fr;
        height: 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        color: $text-muted;
        &.-connected { color: $text-success; }
        &.-connecting { color: $text-warning; }
        &.-reconnecting { color: $text-warning; }
        &.-offline { color: $text-error; text-style: bold; }
    }
    """

    status: reactive[LinkStatus] = reactive(STARTING_UP, repaint=False)
    """What to show; set by the app from connection messages."""

    def watch_status(self, status: LinkStatus) -> None:
        for link in ConnectionStatus:
            self.set_class(status.link is link, f"-{link.value}")
        self.update(Content(f"{_ICONS[status.link]} {status.describe()}"))
