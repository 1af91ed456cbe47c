"""A one-cell spinner that moves only while something is in flight."""

from __future__ import annotations

from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Static

from calc_tui.glyphs import UNICODE


class Spinner(Static):
    """Spins while ``spinning``; blank otherwise. With ``animate`` False it holds frame 0."""

    DEFAULT_CSS = """
    Spinner {
        width: 2;
        height: 1;
        color: $accent;
    }
    """

    spinning: reactive[bool] = reactive(False, repaint=False)
    """True while the calculation runs or a command awaits its ack."""

    frame: reactive[int] = reactive(0, init=False, repaint=False)

    def __init__(
        self, *, animate: bool = True, frames: str = UNICODE.spinner, id: str | None = None
    ) -> None:
        super().__init__(" ", id=id)
        self._animated = animate
        self._frames = frames
        self._timer: Timer | None = None

    def on_mount(self) -> None:
        if self._animated:
            # before the reactives' first watch, which Textual runs right after on_mount
            self._timer = self.set_interval(1 / 10, self._next_frame, pause=True)

    def _next_frame(self) -> None:
        self.frame = (self.frame + 1) % len(self._frames)

    def watch_spinning(self, spinning: bool) -> None:
        if self._timer is not None:
            if spinning:
                self._timer.resume()
            else:
                self._timer.pause()
        self.update(self._frames[self.frame] if spinning else " ", layout=False)

    def watch_frame(self, frame: int) -> None:
        if self.spinning:
            self.update(self._frames[frame], layout=False)
