"""Who is connected: the server's ``who`` answer, one client a line, oldest first."""

from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.getters import query_one
from textual.reactive import reactive
from textual.widgets import Static

from calc_tui.text import plain
from protocol import WhoAnswer


def who_lines(
    answer: WhoAnswer | None, me: str | None, offered: bool | None, connected: bool = True
) -> RenderableType:
    """The view's text: a heading and one row per client, or why there is none."""
    if not connected:
        return Text("Not connected: the server lists who is connected once it is back.", "dim")
    if offered is False:
        return Text("This server does not say who is connected.", "dim")
    if answer is None:
        return Text("Asking the server who is connected…", "dim")
    shown = len(answer.clients)
    head = f"{answer.total} connected"
    if shown < answer.total:
        head += f", the first {shown:,} shown"
    table = Table.grid(padding=(0, 2, 0, 0))
    table.title = head
    table.title_justify = "left"
    table.title_style = "bold"
    table.add_column(no_wrap=True, style="dim")
    table.add_column(overflow="fold")
    table.add_column(no_wrap=True, style="dim")
    for client in answer.clients:
        name = Text(plain(client.name, 64) if client.name else "(no name)")
        if client.client_id == me:
            name.append(" (you)", "bold")
        since = client.connected_at.astimezone().strftime("%H:%M:%S")
        table.add_row(plain(client.client_id, 12), name, f"since {since}")
    return table


class WhoView(VerticalScroll):
    """The clients connected to the server, as its last ``who`` answer listed them."""

    DEFAULT_CSS = """
    WhoView {
        height: 1fr;
        padding: 0 1;
        #who-list { height: auto; }
    }
    """

    answer: reactive[WhoAnswer | None] = reactive(None, repaint=False)
    """The last answer; None until one arrives."""
    me: reactive[str | None] = reactive(None, repaint=False)
    """This app's client id, marked ``(you)``."""
    offered: reactive[bool | None] = reactive(None, repaint=False)
    """Whether the server offers ``who``; None before the first ``welcome``."""
    connected: reactive[bool] = reactive(False, repaint=False)
    """Whether the list can be current; a list from before a disconnection is not shown."""

    _list = query_one("#who-list", Static)

    def compose(self) -> ComposeResult:
        yield Static(id="who-list")

    def watch_answer(self) -> None:
        self._show()

    def watch_me(self) -> None:
        self._show()

    def watch_offered(self) -> None:
        self._show()

    def watch_connected(self) -> None:
        self._show()

    def _show(self) -> None:
        self._list.update(who_lines(self.answer, self.me, self.offered, self.connected))
