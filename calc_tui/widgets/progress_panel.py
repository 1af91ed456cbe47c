"""The calculation: its steps with the current one marked, a bar, elapsed and remaining."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.getters import query_one
from textual.reactive import reactive
from textual.widgets import ProgressBar, Static

from calc_client.text import terminal_safe
from calc_tui.progress import IDLE, Progress
from calc_tui.text import plain, seconds, who
from calc_tui.widgets.spinner import Spinner
from protocol import Phase, State

_STEPS = (Phase.STARTING, Phase.IN_PROGRESS, Phase.ALMOST_DONE)
_SEPARATOR = (" > ", "$foreground-muted")


def steps_line(state: State | None) -> Content:
    """``✓ STARTING > ▸ IN_PROGRESS > ALMOST_DONE > SUCCESS``, styled by where the run is."""
    phase = state.state if state else Phase.IDLE
    stage = state.stage if state else 0
    parts: list[str | tuple[str, str]] = []
    for index, step in enumerate(_STEPS):
        if phase is Phase.IDLE or index > stage:
            parts.append((f"  {step.value}", "$foreground-muted"))
        elif phase is Phase.SUCCESS or index < stage:
            parts.append((f"✓ {step.value}", "$text-success"))
        elif phase.running:
            parts.append((f"▸ {step.value}", "bold $text-accent"))
        else:
            parts.append((f"✗ {step.value}", "$text-warning"))
        parts.append(_SEPARATOR)
    if phase is Phase.SUCCESS:
        parts.append(("✓ SUCCESS", "bold $text-success"))
    elif phase in (Phase.CANCELED, Phase.FAILED):
        parts.append((f"✘ {phase.value}", "bold $text-error"))
    else:
        parts.append(("  SUCCESS", "$foreground-muted"))
    return Content.assemble(*parts)


def detail_line(state: State | None) -> Content:
    """Which calculation and who started it (server text, shown as plain text)."""
    if state is None:
        return Content("Waiting for the server…")
    if state.state is Phase.IDLE or state.calculation_id is None:
        return Content("No calculation yet. Press s to start one.")
    parts: list[str | tuple[str, str]] = [(plain(state.calculation_id, 16), "$foreground-muted")]
    if state.started_by:
        parts.append(f"  started by {who(state.started_by, 48)}")
    return Content.assemble(*parts)


def times_line(state: State | None, progress: Progress) -> Content:
    """``elapsed 2.4s   remaining 3.6s``, or how it ended; blank before a run.

    A job's stages are not timed, so it has no times to tell; the line says whether its run
    is being canceled, and how it ended.
    """
    if state is None or state.state is Phase.IDLE:
        return Content("")
    parts: list[tuple[str, str]] = []
    if progress.elapsed is not None:
        parts.append((f"elapsed {seconds(progress.elapsed)}", ""))
    if progress.remaining is not None:
        parts.append((f"remaining {seconds(progress.remaining)}", ""))
    if state.canceling:
        parts.append(("canceling: waiting for the job to exit…", "$text-warning"))
    if state.state is Phase.CANCELED:
        parts.append((f"canceled by {who(state.ended_by or 'someone')}", "$text-error"))
    elif state.state is Phase.FAILED:
        parts.append((f"failed: {plain(state.ended_by or 'unknown error', 48)}", "$text-error"))
    spaced: list[tuple[str, str]] = []
    for part in parts:
        spaced += [("   ", ""), part] if spaced else [part]
    return Content.assemble(*spaced)


def message_line(state: State | None) -> Content:
    """The job's last message (untrusted, shown plain); for a failure, in the error colour."""
    if state is None or not state.message:
        return Content("")
    text = plain(terminal_safe(state.message), 200)  # the job's text: untrusted
    if state.state is Phase.FAILED:
        return Content.styled(text, "bold $text-error")
    return Content(text)


class ProgressPanel(Vertical):
    """Shows one ``State`` and the interpolated ``Progress``; dimmed while ``stale``."""

    DEFAULT_CSS = """
    ProgressPanel {
        height: auto;
        border: round $primary;
        border-title-color: $text-primary;
        padding: 0 1;
        &.-stale { opacity: 50%; border: round $panel-lighten-2; }
        #steps { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
        #bar-row { height: 1; margin-top: 1; }
        ProgressBar { width: 1fr; }
        ProgressBar Bar { width: 1fr; }
        #times { height: 1; color: $text-muted; text-wrap: nowrap; text-overflow: ellipsis; }
        #message { height: 1; text-wrap: nowrap; text-overflow: ellipsis; display: none; }
        &.-message #message { display: block; }
        #detail { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    }
    """

    state: reactive[State | None] = reactive(None, init=False, repaint=False)
    """The last accepted snapshot."""
    progress: reactive[Progress] = reactive(IDLE, init=False, repaint=False)
    """Where the run is now, interpolated by the app."""
    busy: reactive[bool] = reactive(False, init=False, repaint=False)
    """Spin: the calculation runs or a command awaits its ack."""
    stale: reactive[bool] = reactive(False, init=False, repaint=False)
    """Disconnected: the state shown is the last one known."""

    _steps = query_one("#steps", Static)
    _detail = query_one("#detail", Static)
    _times = query_one("#times", Static)
    _message = query_one("#message", Static)
    _bar = query_one(ProgressBar)
    _spinner = query_one(Spinner)

    def __init__(self, *, animate: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self._animated = animate
        self.border_title = "Calculation"

    def compose(self) -> ComposeResult:
        yield Static(steps_line(None), id="steps")
        with Horizontal(id="bar-row"):
            yield Spinner(animate=self._animated)
            yield ProgressBar(total=1.0, show_eta=False)
        yield Static("", id="message")
        yield Static("", id="times")
        yield Static(detail_line(None), id="detail")

    def watch_state(self, state: State | None) -> None:
        self._steps.update(steps_line(state))
        self._detail.update(detail_line(state))
        self._times.update(times_line(state, self.progress), layout=False)
        message = message_line(state)
        self._message.update(message)
        self.set_class(bool(message.plain), "-message")
        self.border_title = f"Calculation: {state.state.value}" if state else "Calculation"

    def watch_progress(self, progress: Progress) -> None:
        self._bar.update(progress=progress.fraction)
        self._times.update(times_line(self.state, progress), layout=False)

    def watch_busy(self, busy: bool) -> None:
        self._spinner.spinning = busy

    def watch_stale(self, stale: bool) -> None:
        self.set_class(stale, "-stale")
