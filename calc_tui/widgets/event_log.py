"""The event log: time, seq, what happened, who did it."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog


class EventLog(RichLog):
    """One line per event; text is added as plain ``Text``, so markup is never interpreted."""

    DEFAULT_CSS = """
    EventLog {
        height: 1fr;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        padding: 0 1;
        overflow-y: auto;
        scrollbar-size-vertical: 1;
        &:focus { border: round $primary; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, wrap=False, markup=False, highlight=False, max_lines=500)
        self.border_title = "Events"

    def record(self, time: str, seq: int | None, what: str, style: str = "") -> None:
        """Add one line; ``what`` must already be plain (see ``calc_tui.text.plain``)."""
        line = Text.assemble(
            (time, "dim"),
            " ",
            (f"#{seq:<4}" if seq is not None else "     ", "dim"),
            " ",
            (what, style),
        )
        self.write(line)
