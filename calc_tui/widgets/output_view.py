"""The Output view: the job's lines as they come, following the tail unless scrolled back."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

from calc_client.text import plain, terminal_safe
from protocol import Output, OutputLine

KEPT_LINES = 1000
"""Lines kept on screen, as many as the server keeps of a run."""


def render_line(line: OutputLine) -> Text:
    """One line of untrusted output: colours kept through Rich's ANSI parsing, nothing else.

    Every other escape sequence and control character is dropped first
    (``calc_client.text.terminal_safe``); stderr lines are set in italics.
    """
    return Text.from_ansi(
        terminal_safe(line.text, colors=True),
        style="italic" if line.stream == "err" else "",
        no_wrap=True,
        end="",
    )


class OutputView(RichLog):
    """The current run's output, one ``Output`` message at a time; a new run starts it afresh.

    Lines already shown (an answer overlapping a broadcast) are not shown again; a gap in the
    offsets is shown as a line saying how many were not received.
    """

    DEFAULT_CSS = """
    OutputView {
        height: 1fr;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        padding: 0 1;
        scrollbar-size-vertical: 1;
        &:focus { border: round $primary; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, wrap=False, markup=False, highlight=False, max_lines=KEPT_LINES)
        self.border_title = "Output"
        self.calculation_id: str | None = None
        """The run whose lines are shown."""
        self.next_offset = 0
        """The offset of the next line expected."""
        self._following = True

    def on_show(self) -> None:
        """Shown again (its tab chosen): at the tail, if that is where it was left."""
        if self._following:
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True)

    def show(self, output: Output) -> None:
        """Add the lines of ``output`` not shown yet; a message of another run starts over."""
        if output.calculation_id is None:
            return
        if output.calculation_id != self.calculation_id:
            self.clear()
            self.calculation_id = output.calculation_id
            self.next_offset = output.offset
            self.border_title = f"Output of {plain(output.calculation_id, 16)}"
        first = max(self.next_offset - output.offset, 0)
        if first >= len(output.lines):
            return
        if self.size:  # hidden, it has no size and nobody scrolled it
            self._following = self.is_vertical_scroll_end  # scrolled back: stay there
        follow = self._following
        missed = output.offset - self.next_offset
        if missed > 0:
            noun = "line" if missed == 1 else "lines"
            self.write(Text(f"… {missed:,} {noun} not received", style="dim"), scroll_end=False)
        for line in output.lines[first:]:
            self.write(render_line(line), scroll_end=False)
        self.next_offset = output.offset + len(output.lines)
        if follow and self.size:
            # at once, not after the next refresh: the next batch must find us at the tail
            self.scroll_end(animate=False, immediate=True)
