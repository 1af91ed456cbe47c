"""The calculation: its steps with the current one marked, a bar, elapsed and remaining.

While disconnected it says that what it shows is the last known state, and since when. The
app's CSS picks the long or the short steps line and, on short terminals, the heading that
replaces the border title.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.getters import query_one
from textual.reactive import reactive
from textual.renderables.bar import Bar as BarRenderable
from textual.widgets import ProgressBar, Static

from calc_client.text import terminal_safe
from calc_tui.glyphs import UNICODE, Glyphs
from calc_tui.progress import IDLE, Progress
from calc_tui.status import STARTING_UP, ConnectionStatus, LinkStatus
from calc_tui.text import plain, seconds, who
from calc_tui.widgets.spinner import Spinner
from protocol import STAGES, Phase, State

_STEPS = (Phase.STARTING, Phase.IN_PROGRESS, Phase.ALMOST_DONE)
_MUTED = "$foreground-muted"


def steps_line(state: State | None, glyphs: Glyphs = UNICODE) -> Content:
    """``✓ STARTING > ▸ IN_PROGRESS > ALMOST_DONE > SUCCESS``, styled by where the run is."""
    phase = state.state if state else Phase.IDLE
    stage = state.stage if state else 0
    parts: list[str | tuple[str, str]] = []
    for index, step in enumerate(_STEPS):
        if phase is Phase.IDLE or index > stage:
            parts.append((f"  {step.value}", _MUTED))
        elif phase is Phase.SUCCESS or index < stage:
            parts.append((f"{glyphs.done} {step.value}", "$text-success"))
        elif phase.running:
            parts.append((f"{glyphs.current} {step.value}", "bold $text-accent"))
        else:
            parts.append((f"{glyphs.stopped} {step.value}", "$text-warning"))
        parts.append((" > ", _MUTED))
    if phase is Phase.SUCCESS:
        parts.append((f"{glyphs.done} SUCCESS", "bold $text-success"))
    elif phase in (Phase.CANCELED, Phase.FAILED):
        parts.append((f"{glyphs.ended} {phase.value}", "bold $text-error"))
    else:
        parts.append(("  SUCCESS", _MUTED))
    return Content.assemble(*parts)


def short_steps_line(state: State | None, glyphs: Glyphs = UNICODE) -> Content:
    """The steps for narrow terminals: ``▸ IN_PROGRESS, stage 2 of 3``."""
    if state is None or state.state is Phase.IDLE:
        return Content.styled(f"{STAGES} stages, none started", _MUTED)
    phase = state.state
    stages = max(state.stages, 1)
    stage = f"stage {min(state.stage + 1, stages)} of {stages}"
    if phase is Phase.SUCCESS:
        return Content.styled(f"{glyphs.done} SUCCESS, all {stages} stages", "bold $text-success")
    if phase.running:
        return Content.assemble(
            (f"{glyphs.current} {phase.value}", "bold $text-accent"), f", {stage}"
        )
    return Content.assemble((f"{glyphs.ended} {phase.value}", "bold $text-error"), f" in {stage}")


def title_of(state: State | None, stale: bool) -> str:
    """``Calculation: IN_PROGRESS``, marked ``(last known)`` while disconnected."""
    if state is None:
        return "Calculation"
    return f"Calculation: {state.state.value}{' (last known)' if stale else ''}"


def heading_of(state: State | None, stale: bool) -> str:
    """The title with the stage, for short terminals where the steps line is hidden."""
    title = title_of(state, stale)
    if state is None or not state.state.running or stale:
        return title
    return f"{title}, stage {state.stage + 1} of {max(state.stages, 1)}"


def detail_line(state: State | None, link: LinkStatus, stale: bool) -> Content:
    """Which calculation and who started it (server text, shown as plain text)."""
    if state is None:
        if link.link is ConnectionStatus.CONNECTING or link.connected:
            return Content("Waiting for the server…")
        return Content.styled("Nothing known yet: not connected.", _MUTED)
    if state.state is Phase.IDLE or state.calculation_id is None:
        return Content(
            "No calculation yet." if stale else "No calculation yet. Press s to start one."
        )
    parts: list[str | tuple[str, str]] = [(plain(state.calculation_id, 16), _MUTED)]
    if state.started_by:
        parts.append(f"  started by {who(state.started_by, 48)}")
    return Content.assemble(*parts)


def times_line(state: State | None, progress: Progress, stale: bool) -> Content:
    """``elapsed 2.4s   remaining 3.6s``, or how it ended; blank before a run.

    A job's stages are not timed, so it has no times to tell; the line says whether its run
    is being canceled, and how it ended. While ``stale`` the remaining time is left out:
    nobody knows it.
    """
    if state is None or state.state is Phase.IDLE:
        return Content("")
    parts: list[tuple[str, str]] = []
    if progress.elapsed is not None:
        parts.append((f"elapsed {seconds(progress.elapsed)}", ""))
    if progress.remaining is not None and not stale:
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


def notice_line(offline_since: str | None) -> Content:
    """What a stale panel says about itself."""
    since = f"offline since {offline_since}" if offline_since else "offline"
    return Content.styled(f"Last known: {since}", "$text-warning")


class _AsciiBar(BarRenderable):
    """The bar drawn with ``=`` for terminals without box-drawing glyphs."""

    HALF_BAR_LEFT = "="
    BAR = "="
    HALF_BAR_RIGHT = "="


class _AsciiProgressBar(ProgressBar):
    BAR_RENDERABLE = _AsciiBar


class ProgressPanel(Vertical):
    """Shows one ``State`` and the interpolated ``Progress``; says when it is out of date."""

    DEFAULT_CSS = """
    ProgressPanel {
        height: auto;
        border: round $primary;
        border-title-color: $text-primary;
        padding: 0 1;
        &.-stale { border: round $panel-lighten-2; }
        &.-stale #steps, &.-stale #steps-short, &.-stale #bar-row, &.-stale #message,
        &.-stale #times, &.-stale #detail { opacity: 60%; }
        #heading { height: 1; text-style: bold; display: none; }
        #steps { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
        #steps-short { height: 1; display: none; }
        #bar-row { height: 1; margin-top: 1; }
        ProgressBar { width: 1fr; }
        ProgressBar Bar { width: 1fr; }
        #message { height: 1; text-wrap: nowrap; text-overflow: ellipsis; display: none; }
        &.-message #message { display: block; }
        #times { height: auto; color: $text-muted; }
        #notice { height: auto; display: none; }
        &.-stale #notice { display: block; }
        #detail { height: auto; }
    }
    """

    state: reactive[State | None] = reactive(None, repaint=False)
    """The last accepted snapshot."""
    progress: reactive[Progress] = reactive(IDLE, repaint=False)
    """Where the run is now, interpolated by the app."""
    busy: reactive[bool] = reactive(False, repaint=False)
    """Spin: the calculation runs or a command awaits its ack."""
    link: reactive[LinkStatus] = reactive(STARTING_UP, repaint=False)
    """The connection: what to say while no state is known, and whether it is current."""
    offline_since: reactive[str | None] = reactive(None, repaint=False)
    """Wall-clock time the connection was lost; None while connected."""

    _heading = query_one("#heading", Static)
    _steps = query_one("#steps", Static)
    _short_steps = query_one("#steps-short", Static)
    _detail = query_one("#detail", Static)
    _times = query_one("#times", Static)
    _message = query_one("#message", Static)
    _notice = query_one("#notice", Static)
    _bar = query_one(ProgressBar)
    _spinner = query_one(Spinner)

    def __init__(
        self, *, animate: bool = True, glyphs: Glyphs = UNICODE, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self._animated = animate
        self._glyphs = glyphs

    def compose(self) -> ComposeResult:
        yield Static(id="heading")
        yield Static(id="steps")
        yield Static(id="steps-short")
        with Horizontal(id="bar-row"):
            yield Spinner(animate=self._animated, frames=self._glyphs.spinner)
            bar = _AsciiProgressBar if self._glyphs.ascii else ProgressBar
            yield bar(total=1.0, show_eta=False)
        yield Static(id="message")
        yield Static(id="times")
        yield Static(id="notice")
        yield Static(id="detail")

    @property
    def stale(self) -> bool:
        """Disconnected with a state shown: it is the last one known."""
        return self.state is not None and not self.link.connected

    def watch_state(self, state: State | None) -> None:
        self._steps.update(steps_line(state, self._glyphs))
        self._short_steps.update(short_steps_line(state, self._glyphs))
        message = message_line(state)
        self._message.update(message)
        self.set_class(bool(message.plain), "-message")
        self._show_words()

    def watch_progress(self, progress: Progress) -> None:
        # to 1/10,000: finer than any bar draws, and it keeps Textual's ETA estimate finite (a
        # server's denormal steps made its speed ~0 and its estimate infinite, which crashed)
        self._bar.update(progress=round(progress.fraction, 4))
        # every tick: the same words with new digits, so no new layout (a state change has one)
        self._times.update(times_line(self.state, progress, self.stale), layout=False)

    def watch_busy(self, busy: bool) -> None:
        self._spinner.spinning = busy

    def watch_link(self) -> None:
        self._show_words()

    def watch_offline_since(self, offline_since: str | None) -> None:
        self._notice.update(notice_line(offline_since))

    def _show_words(self) -> None:
        """The texts that follow from state, link and staleness together, so none disagree."""
        state, stale = self.state, self.stale
        self.set_class(stale, "-stale")
        self.border_title = title_of(state, stale)
        self._heading.update(heading_of(state, stale))
        self._detail.update(detail_line(state, self.link, stale))
        self._times.update(times_line(state, self.progress, stale))
