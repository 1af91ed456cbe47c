"""The History view: past runs in a table, and one run's details in a modal screen.

The view only shows what it is given (``show``, ``unavailable``); choosing a row posts
``HistoryView.RunChosen`` and the app asks the server for that run. Every text from the
server is made plain (``calc_client.runs``), never interpreted as markup.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from calc_client.runs import duration, outcome, stage_times, started, who
from calc_client.text import plain
from protocol import Run

_OUTCOME_STYLES = {
    "SUCCESS": "green",
    "CANCELED": "yellow",
    "FAILED": "red",
    "INTERRUPTED": "bold red",
}


def _outcome_cell(run: Run) -> Text:
    text = outcome(run)
    return Text(text, style=_OUTCOME_STYLES.get(text, ""))


class HistoryView(Vertical):
    """The server's past runs, newest first: id, started, duration, outcome, by."""

    DEFAULT_CSS = """
    HistoryView {
        height: 1fr;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        &:focus-within { border: round $primary; }
        DataTable { height: 1fr; scrollbar-size-vertical: 1; }
        #history-note { color: $text-muted; height: auto; display: none; }
        #history-note.shown { display: block; }
    }
    """

    @dataclass
    class RunChosen(Message):
        """The user asked for the details of run ``calculation_id``."""

        calculation_id: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "History"

    def compose(self) -> ComposeResult:
        yield Static("", id="history-note", markup=False)
        table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=True)
        table.add_column("id", key="id")
        table.add_column("started", key="started")
        table.add_column("duration", key="duration")
        table.add_column("outcome", key="outcome")
        table.add_column("by", key="by")
        yield table

    @property
    def table(self) -> DataTable[Text]:
        """The table of runs."""
        return self.query_one(DataTable)

    def show(self, runs: list[Run]) -> None:
        """Replace the rows with ``runs`` (newest first).

        A cursor on the newest run stays on the newest; one moved down stays on its run.
        """
        table = self.table
        chosen = self._cursor_key() if table.cursor_row > 0 else None
        table.clear()
        for run in runs:
            if run.calculation_id in table.rows:
                continue  # a server repeating a run must not break the table
            # Text, never str: the table would read a str as markup
            table.add_row(
                Text(plain(run.calculation_id, 16)),
                Text(started(run)),
                Text(duration(run)),
                _outcome_cell(run),
                Text(who(run.started_by, 24)),
                key=run.calculation_id,
            )
        if chosen is not None and chosen in table.rows:
            table.move_cursor(row=table.get_row_index(chosen))
        self._note("" if runs else "No runs yet.")

    def unavailable(self) -> None:
        """Say that the server cannot read its history now (the rows stay as they were)."""
        self._note("The server cannot read its run history now; it keeps trying.")

    def _note(self, text: str) -> None:
        note = self.query_one("#history-note", Static)
        note.update(text)
        note.set_class(bool(text), "shown")

    def _cursor_key(self) -> str | None:
        table = self.table
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.RunChosen(event.row_key.value))


class RunDetails(ModalScreen[None]):
    """One run: who and when, how it ended, each stage's time, and a real job's exit."""

    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close")]

    DEFAULT_CSS = """
    RunDetails {
        align: center middle;
        #run-details {
            width: 76;
            max-width: 100%;
            height: auto;
            max-height: 90%;
            border: round $primary;
            background: $surface;
            padding: 0 1;
        }
    }
    """

    def __init__(self, run: Run) -> None:
        super().__init__()
        self.run = run

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="run-details") as box:
            box.border_title = f"Run {plain(self.run.calculation_id, 24)}"
            box.border_subtitle = "Esc closes"
            yield Static(details(self.run), markup=False)

    def action_dismiss(self) -> None:  # type: ignore[override]
        """Close the details."""
        self.dismiss()


def details(run: Run) -> Text:
    """The details of ``run`` as plain rich text: label, value, one per line."""
    ended = _outcome_cell(run)
    if run.ended_by:
        ended.append(f"  {who(run.ended_by, 60)}")
    lines: list[tuple[str, str | Text]] = [
        ("outcome", ended),
        ("started", f"{started(run)} by {who(run.started_by, 48)}"),
        ("duration", duration(run)),
        ("stages", stage_times(run)),
    ]
    if run.command is not None:
        lines.append(("command", plain(run.command, 200)))
    if run.exit_code is not None:
        lines.append(("exit code", str(run.exit_code)))
    if run.last_message is not None:
        lines.append(("last message", plain(run.last_message, 200)))
    text = Text()
    for label, value in lines:
        text.append(f"{label:<13}", style="bold")
        text.append(value)
        text.append("\n")
    if run.output_tail:
        text.append(f"last {len(run.output_tail)} lines of output\n", style="bold")
        for line in run.output_tail:
            text.append(plain(line.text, 200) + "\n", style="red" if line.stream == "err" else "")
    text.rstrip()
    return text
