"""Asked before quitting an app that serves others: what quitting will do to them."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


def consequences(running: str | None, others: int) -> list[str]:
    """What quitting the serving app does, one item a line; empty when it harms no one."""
    lines = []
    if running is not None:
        lines.append(f"the running calculation {running} is canceled for everyone")
    if others > 0:
        lines.append(f"{others} other client{'s are' if others != 1 else ' is'} disconnected")
    return lines


class QuitScreen(ModalScreen[bool]):
    """Quit and stop serving, or stay; dismissed with True to quit."""

    DEFAULT_CSS = """
    QuitScreen {
        align: center middle;
        #dialog {
            width: 64;
            max-width: 100%;
            height: auto;
            max-height: 100%;
            border: thick $error;
            background: $surface;
            padding: 0 1;
        }
        #question { text-style: bold; }
        #answers { height: auto; margin-top: 1; }
        #answers Button { margin-right: 2; }
    }
    """

    BINDINGS = [
        Binding("y", "quit", "Quit", show=False),
        Binding("escape,n", "stay", "Stay", show=False),
    ]

    def __init__(self, lines: list[str], *, bullet: str = "•") -> None:
        super().__init__()
        self._lines = lines
        self._bullet = bullet

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("Quit and stop serving?", id="question")
            yield Static("This app runs the server. Quitting stops it:")
            for line in self._lines:
                yield Static(f"{self._bullet} {line}")
            with Horizontal(id="answers"):
                yield Button("Stay (n)", id="stay", variant="primary", action="screen.stay")
                yield Button("Quit (y)", id="quit", variant="error", action="screen.quit")

    def on_mount(self) -> None:
        self.query_one("#stay", Button).focus()  # Enter right after q must not end everyone's run

    def action_quit(self) -> None:
        """Quit: the server stops with the app."""
        self.dismiss(True)

    def action_stay(self) -> None:
        """Keep running."""
        self.dismiss(False)
