"""The help screen (``?``, F1): every key, and what the connection and calculation states mean."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, str], ...] = (
    ("s", "start a calculation (when connected and none runs)"),
    ("c", "cancel the running calculation"),
    ("r", "reconnect now instead of waiting for the next try"),
    ("e / o / h / w", "show the Events log / a job's Output / past runs / who is connected"),
    ("Tab, Enter", "move between the buttons and press one"),
    ("ctrl+p", "command palette: every command by name"),
    ("? / F1", "this help (Escape closes it)"),
    ("q", "quit; ctrl+q and ctrl+c too (asks first if this app serves others)"),
)

CONNECTION_STATES: tuple[tuple[str, str], ...] = (
    ("connected", "commands can be sent; the screen is live"),
    ("connecting", "the first attempt is under way"),
    ("reconnecting", "the link was lost or refused; the next try is counted down"),
    ("offline", "refused for a reason retrying cannot fix (e.g. a wrong token): press r"),
)

CALCULATION_STATES: tuple[tuple[str, str], ...] = (
    ("IDLE", "no calculation has run since the server started"),
    ("STARTING", "stage 1 of 3"),
    ("IN_PROGRESS", "stage 2 of 3"),
    ("ALMOST_DONE", "stage 3 of 3"),
    ("SUCCESS", "all three stages finished"),
    ("CANCELED", "someone canceled it, or the server shut down"),
    ("FAILED", "the server could not finish it"),
)


def _section(title: str, rows: tuple[tuple[str, str], ...]) -> Table:
    """A titled two-column grid: the meanings wrap under themselves, never under the keys."""
    table = Table.grid(padding=(0, 2, 0, 0))
    table.title = title
    table.title_justify = "left"
    table.title_style = "bold"
    table.add_column(no_wrap=True, style="bold")
    table.add_column()
    for key, meaning in rows:
        table.add_row(key, meaning)
    return table


SECTIONS = (
    ("Keys", KEYS),
    ("Connection", CONNECTION_STATES),
    ("Calculation", CALCULATION_STATES),
)

FOOTNOTE = "While not connected, the panel shows the last known state and since when."


class HelpScreen(ModalScreen[None]):
    """Keys and states, over the app; any of Escape, ``?``, F1 or ``q`` closes it."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        #help {
            width: 80;
            max-width: 100%;
            height: auto;
            max-height: 100%;
            border: round $primary;
            border-title-color: $text-primary;
            background: $surface;
            padding: 0 1;
            .section { margin-bottom: 1; }
            .footnote { color: $text-muted; }
        }
    }
    """

    BINDINGS = [
        Binding("escape,question_mark,f1,q", "dismiss", "Close", key_display="esc"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help") as scroll:
            scroll.border_title = "Help"
            scroll.border_subtitle = "esc closes"
            for title, rows in SECTIONS:
                yield Static(_section(title, rows), classes="section")
            yield Static(FOOTNOTE, classes="footnote")
