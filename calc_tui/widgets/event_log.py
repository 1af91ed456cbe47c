"""The event log: time, seq, what happened, who did it; lines wrap and re-wrap on resize."""

from __future__ import annotations

from collections import deque

from rich.table import Table
from rich.text import Text
from textual import events
from textual.widgets import RichLog

MAX_EVENTS = 500
"""Events kept; older ones scroll away for good."""


class EventLog(RichLog):
    """One entry per event, wrapped under its text; added as plain ``Text``, never markup.

    RichLog renders a line once, at the width it had then; the entries are kept so that a
    resize renders them again at the new width instead of cutting them or scrolling sideways.
    """

    DEFAULT_CSS = """
    EventLog {
        height: 1fr;
        padding: 0 1;
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-size-vertical: 1;
        scrollbar-gutter: stable;  /* the width lines wrap at never changes with the scrollbar */
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            id=id, wrap=True, min_width=1, max_lines=4 * MAX_EVENTS, markup=False, highlight=False
        )
        self._entries: deque[Table] = deque(maxlen=MAX_EVENTS)
        self._width = 0
        """The width the entries were last rendered at."""

    def record(self, time: str, seq: int | None, what: str, style: str = "") -> None:
        """Add one entry; ``what`` must already be plain (see ``calc_tui.text.plain``)."""
        entry = Table.grid(padding=(0, 1, 0, 0))
        entry.add_column(no_wrap=True)
        entry.add_column(no_wrap=True, min_width=5)
        entry.add_column(overflow="fold")
        entry.add_row(
            Text(time, "dim"),
            Text(f"#{seq}" if seq is not None else "", "dim"),
            Text(what, style),
        )
        self._entries.append(entry)
        self.write(entry)

    def on_resize(self, event: events.Resize) -> None:
        width = self.scrollable_content_region.width
        if width != self._width and self._entries:
            self._width = width
            at_end = self.is_vertical_scroll_end
            self.clear()
            for entry in self._entries:
                self.write(entry, scroll_end=False)
            if at_end:
                self.scroll_end(animate=False)
