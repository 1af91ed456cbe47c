"""The calc-tui application and ``make_app``, the factory the command line and tests share."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from contextlib import aclosing
from dataclasses import replace
from datetime import datetime
from ssl import SSLContext
from urllib.parse import urlsplit

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.getters import query_one
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, TabbedContent, TabPane

from calc_client.reconnect import (
    Backoff,
    Connected,
    Connecting,
    Disconnected,
    Received,
    Reconnector,
)
from calc_local.defaults import default_client_name, default_url
from calc_tui.commands import CalcCommands
from calc_tui.glyphs import UNICODE, Glyphs
from calc_tui.messages import ConnectionReported
from calc_tui.progress import IDLE, Progress, progress_at
from calc_tui.screens.help_screen import HelpScreen
from calc_tui.screens.quit_screen import QuitScreen, consequences
from calc_tui.status import STARTING_UP, ConnectionStatus, LinkStatus
from calc_tui.text import (
    CLUSTER_DEGRADED,
    CLUSTER_HEALTHY,
    describe_error,
    describe_rejection,
    plain,
    who,
)
from calc_tui.widgets.connection_indicator import ConnectionIndicator
from calc_tui.widgets.event_log import EventLog
from calc_tui.widgets.history_view import HistoryView, RunDetails
from calc_tui.widgets.output_view import OutputView
from calc_tui.widgets.presence import PresenceCount
from calc_tui.widgets.progress_panel import ProgressPanel
from calc_tui.widgets.serving_banner import ServingBanner
from calc_tui.widgets.who_view import WhoView
from protocol import (
    Ack,
    AckReason,
    ClusterStatus,
    Error,
    ErrorCode,
    History,
    Output,
    Phase,
    Presence,
    Run,
    ServerMessage,
    State,
    Welcome,
    WhoAnswer,
)

TICK = 1 / 12
"""Seconds between progress redraws while a calculation runs and the link is up."""

_COMMAND_OF_REASON: dict[str, str] = {
    AckReason.ALREADY_RUNNING: "start",
    AckReason.NOT_RUNNING: "cancel",
    AckReason.STALE_CALCULATION: "cancel",
}

COUNTDOWN = 0.25
"""Seconds between updates of "retry in" while waiting to reconnect."""

VIEWS = ("events", "output", "history", "who")
"""The panes of the views below the progress panel, in tab order."""

Clock = Callable[[], float]
WallClock = Callable[[], str]


def _wall_clock() -> str:
    return datetime.now().strftime("%H:%M:%S")


class CalcApp(App[None]):
    """Watch and drive the shared calculation; see ``make_app``.

    Handlers set reactives from connection messages; what follows from them (which commands
    are possible, whether something is in flight, whether the clock ticks) is computed, and
    watchers carry it to the widgets, the footer and the focus.
    """

    TITLE = "calc-tui"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {CalcCommands}
    AUTO_FOCUS = None  # the action that fits the state takes focus, not the first widget
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (60, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (20, "-tall")]
    """Below 60 columns or 20 rows the layout turns compact (see app.tcss)."""
    BINDINGS = [
        Binding("s", "start", "Start"),
        Binding("c", "cancel", "Cancel"),
        Binding("r", "reconnect", "Reconnect"),
        Binding("e", "show_view('events')", "Events", show=False),
        Binding("o", "show_view('output')", "Output", show=False),
        Binding("h", "show_view('history')", "History", show=False),
        Binding("w", "show_view('who')", "Who", show=False),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+q,ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    link_status: reactive[LinkStatus] = reactive(STARTING_UP, repaint=False)
    """The connection, as the indicator shows it."""
    calc: reactive[State | None] = reactive(None, repaint=False)
    """The last accepted snapshot of the calculation."""
    progress: reactive[Progress] = reactive(IDLE, repaint=False)
    """``calc`` interpolated to now."""
    clients: reactive[int | None] = reactive(None, repaint=False)
    """How many clients the server counts."""
    pending: reactive[Mapping[str, str]] = reactive(dict, repaint=False)
    """Commands sent and not yet acknowledged, by request id; replaced, never mutated."""
    offline_since: reactive[str | None] = reactive(None, repaint=False)
    """Wall-clock time the connection was lost; None while connected."""

    connected: reactive[bool] = reactive(False, repaint=False)
    """Commands can be sent: the link is up."""
    can_start: reactive[bool] = reactive(False, repaint=False, bindings=True)
    """Start would be sent: connected, nothing runs, no start awaits its ack."""
    can_cancel: reactive[bool] = reactive(False, repaint=False, bindings=True)
    """Cancel would be sent: connected, a run is going, no cancel awaits its ack."""
    busy: reactive[bool] = reactive(False, repaint=False)
    """Something is in flight: the calculation runs, or a command awaits its ack."""
    ticking: reactive[bool] = reactive(False, repaint=False)
    """The bar moves: connected while a calculation runs."""

    _event_log = query_one(EventLog)
    _history_view = query_one(HistoryView)
    _output_view = query_one(OutputView)
    _who = query_one(WhoView)
    _views = query_one("#views", TabbedContent)
    _start_button = query_one("#start", Button)
    _cancel_button = query_one("#cancel", Button)
    _reconnect_button = query_one("#reconnect", Button)

    def __init__(
        self,
        url: str,
        *,
        connection: Reconnector | None,
        clock: Clock | None = None,
        wall_clock: WallClock = _wall_clock,
        animate: bool = True,
        warning: str | None = None,
        serving: bool = False,
        glyphs: Glyphs = UNICODE,
    ) -> None:
        super().__init__()
        self._warning = warning
        self.url = url
        self.sub_title = plain(url, 60)
        self.connection = connection
        self.serving = serving
        """This app runs the server it is connected to (``calc-tui --serve``)."""
        self.glyphs = glyphs
        self._clock = clock
        self._wall_clock = wall_clock
        self._animated = animate
        self._epoch: str | None = None
        self._client_id: str | None = None
        self._ever_connected = False
        self._received_at = 0.0
        self._frozen_at: float | None = None
        self._retry_at: float | None = None
        self._last_failure = ""
        self._details_asked: set[str] = set()  # request ids of runs asked for by Enter
        self._told_interrupted: set[str] = set()

    # --- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        glyphs = self.glyphs
        yield Header(icon="*" if glyphs.ascii else "⭘")
        if self.serving:
            address = urlsplit(self.url).netloc or self.url
            yield ServingBanner(plain(address, 40)).data_bind(clients=CalcApp.clients)
        with Horizontal(id="status"):
            yield ConnectionIndicator(glyphs=glyphs).data_bind(status=CalcApp.link_status)
            yield PresenceCount().data_bind(clients=CalcApp.clients)
        yield ProgressPanel(animate=self._animated, glyphs=glyphs).data_bind(
            state=CalcApp.calc,
            progress=CalcApp.progress,
            busy=CalcApp.busy,
            link=CalcApp.link_status,
            offline_since=CalcApp.offline_since,
        )
        with Horizontal(id="buttons"):
            yield Button("Start", id="start", variant="success", action="app.start")
            yield Button("Cancel", id="cancel", variant="error", action="app.cancel")
            yield Button("Reconnect", id="reconnect", variant="primary", action="app.reconnect")
        with TabbedContent(id="views", initial="events"):
            with TabPane("Events", id="events"):
                yield EventLog()
            with TabPane("Output", id="output"):
                yield OutputView()
            with TabPane("History", id="history"):
                yield HistoryView()
            with TabPane("Who", id="who"):
                yield WhoView().data_bind(connected=CalcApp.connected)
        yield Footer()

    def on_mount(self) -> None:
        self._ticker = self.set_interval(TICK, self._tick, pause=True)
        self._countdown = self.set_interval(COUNTDOWN, self._count_down, pause=True)
        if self.glyphs.ascii:
            self.add_class("-ascii")
        if self._warning:
            self.notify(self._warning, title="Warning", severity="warning", timeout=30)
        if self.connection is not None:
            self._run_connection(self.connection)

    @work(exclusive=True, group="connection", exit_on_error=True)
    async def _run_connection(self, connection: Reconnector) -> None:
        """Own the socket: post every connection event, until the app ends."""
        # events() is an async generator: closing it closes the link it holds.
        async with aclosing(connection.events()) as events:
            async for event in events:
                self.post_message(ConnectionReported(event))

    @property
    def pending_commands(self) -> tuple[str, ...]:
        """Commands sent and not yet acknowledged (``"start"``, ``"cancel"``)."""
        return tuple(self.pending.values())

    # --- time ----------------------------------------------------------------------------

    def now(self) -> float:
        """The loop's monotonic time (or the injected clock); never the wall clock."""
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    def _tick(self) -> None:
        calc = self.calc
        if calc is None:
            self.progress = IDLE
            return
        now = self._frozen_at if self._frozen_at is not None else self.now()
        self.progress = progress_at(calc, now - self._received_at)

    # --- connection messages -------------------------------------------------------------

    def on_connection_reported(self, message: ConnectionReported) -> None:
        if not self.is_running:
            return  # shutting down: a last connection message may arrive after the screen left
        match message.event:
            case Connecting() as attempt:
                self._attempting(attempt)
            case Connected(welcome=welcome):
                self._welcomed(welcome)
            case Received(message=received):
                self._received(received)
            case Disconnected() as lost:
                self._lost(lost)

    def _attempting(self, message: Connecting) -> None:
        link = (
            ConnectionStatus.RECONNECTING
            if self._ever_connected or message.attempt > 1
            else ConnectionStatus.CONNECTING
        )
        self._retry_at = None
        self._countdown.pause()
        self.link_status = LinkStatus(link, attempt=message.attempt)

    def _lost(self, message: Disconnected) -> None:
        was_connected = self.link_status.connected
        if self._frozen_at is None:
            self._frozen_at = self.now()  # the bar stops where it was when the link went
        if self.offline_since is None:
            self.offline_since = self._wall_clock()
        self.pending = {}
        self.clients = None  # unknown until the server says again
        self._who.answer = None  # out of date; asked again after the next welcome
        link = (
            ConnectionStatus.OFFLINE if message.retry_in is None else ConnectionStatus.RECONNECTING
        )
        self.link_status = LinkStatus(
            link, attempt=message.attempt, retry_in=message.retry_in, reason=message.reason
        )
        self._retry_at = None if message.retry_in is None else self.now() + message.retry_in
        self._count_down()
        reason = plain(message.reason, 120)
        if was_connected:
            self._record(None, f"connection lost: {reason}", "bold")
        elif message.retry_in is None:
            self._record(None, f"{reason}; not retrying until r", "bold")
        elif reason != self._last_failure:
            self._record(None, reason)
        self._last_failure = reason
        if message.retry_in is None:
            self.notify(
                f"{reason}. Press r to try again.",
                title="Not connected",
                severity="error",
                timeout=10,
                markup=False,
            )

    def _count_down(self) -> None:
        """Keep "retry in" current while waiting to reconnect; stop when the wait ends."""
        status = self.link_status
        if self._retry_at is None or status.link is not ConnectionStatus.RECONNECTING:
            self._countdown.pause()
            return
        self._countdown.resume()
        counted = replace(status, retry_in=max(self._retry_at - self.now(), 0.0))
        if counted.describe() != status.describe():
            self.link_status = counted

    def _received(self, message: ServerMessage) -> None:
        match message:
            case State() as state:
                self._state_received(state)
            case Ack() as ack:
                self._ack_received(ack)
            case History() as history:
                self._history_received(history)
            case Error(code=ErrorCode.HISTORY_UNAVAILABLE):
                self._details_asked.discard(message.request_id or "")
                self._history_view.unavailable()
            case Error() as error:
                text = describe_error(error.code, error.message)
                self._record(None, f"error: {text}", "bold")
                self.notify(text, title="Server error", severity="error", markup=False)
            case Presence(clients=clients):
                self.clients = clients
                self._ask_who()  # someone came or went: the list is out of date
            case WhoAnswer() as answer:
                self._who.answer = answer
            case ClusterStatus(degraded=degraded):
                self._cluster_reported(degraded)
            case Output() as output:
                self._output_view.show(output)

    def _cluster_reported(self, degraded: bool) -> None:
        text = CLUSTER_DEGRADED if degraded else CLUSTER_HEALTHY
        self._record(None, text, "bold" if degraded else "")
        if degraded:
            self.notify(text, title="Cluster degraded", severity="warning", markup=False)

    def _welcomed(self, welcome: Welcome) -> None:
        restarted = self._epoch is not None and welcome.epoch != self._epoch
        if restarted:
            calc = self.calc
            interrupted = calc is not None and calc.state.running
            text = "server restarted"
            if calc is not None and interrupted:
                text += f": calculation {plain(calc.calculation_id or '', 16)} was interrupted"
            self._record(None, text, "bold")
            toast = "The server restarted."
            if interrupted:
                toast += " The calculation that was running was interrupted."
            self.notify(toast, title="Server restarted", severity="warning", markup=False)
        self._epoch = welcome.epoch
        self._client_id = welcome.client_id
        self._ever_connected = True
        self._frozen_at = None
        self._last_failure = ""
        self.offline_since = None
        self.clients = welcome.clients
        self._who.me = welcome.client_id
        self._who.offered = "who" in welcome.features
        self.link_status = LinkStatus(ConnectionStatus.CONNECTED)
        self._record(None, f"connected as {plain(welcome.client_id, 20)}")
        if welcome.last_run is not None:
            self._tell_if_interrupted(welcome.last_run)
        if "history" in welcome.features:
            self.call_later(self._ask_history)
        self._ask_who()

    def _state_received(self, state: State) -> None:
        old = self.calc
        if old is not None and state.epoch == old.epoch and state.seq <= old.seq:
            return  # not newer than what is shown
        self._received_at = self.now()
        self.calc = state
        what = _describe_change(old, state)
        if what:
            self._record(state.seq, what, "bold" if state.state.terminal else "")
        if state.state.terminal and (old is None or old.state is not state.state):
            self.call_later(self._ask_history)  # a run ended: it belongs in the history now
        newly_failed = state.state is Phase.FAILED and (
            old is None or old.state is not Phase.FAILED
        )
        if newly_failed and self._output_view.calculation_id == state.calculation_id:
            self.action_show_view("output")  # the last lines say why: show them

    def _ack_received(self, ack: Ack) -> None:
        # Acks go only to their sender, so every ack answers one of ours; if its id is not
        # pending, the reason still says which command was refused.
        pending = dict(self.pending)
        command = pending.pop(ack.request_id, None) or _COMMAND_OF_REASON.get(
            ack.reason or "", "command"
        )
        self.pending = pending
        if not ack.accepted:
            text = describe_rejection(ack.reason)
            self._record(ack.seq, f"{command} refused: {text}", "bold")
            title = f"{command.capitalize()} refused"
            self.notify(text, title=title, severity="warning", markup=False)

    def _tell_if_interrupted(self, last: Run) -> None:
        """Say once that the newest run was interrupted: its server died during it."""
        if last.outcome != "INTERRUPTED" or last.calculation_id in self._told_interrupted:
            return
        self._told_interrupted.add(last.calculation_id)
        by = plain(last.ended_by or "server stopped unexpectedly", 48)
        cid = plain(last.calculation_id, 16)
        self._record(None, f"the last run, {cid}, was interrupted: {by}", "bold")

    def _history_received(self, history: History) -> None:
        """A page goes into the History view; one run asked for by Enter opens its details."""
        if history.request_id not in self._details_asked:
            try:
                view = self._history_view
            except NoMatches:
                return  # the app is closing (or another screen is on top): nothing to show it in
            view.show(history.runs)
            return
        self._details_asked.discard(history.request_id)
        if history.runs:
            self.push_screen(RunDetails(history.runs[0]))
        else:
            self.notify("That run is no longer kept.", severity="warning", markup=False)

    async def _ask_history(self) -> None:
        """Ask for the newest runs (a full page) for the History view."""
        if self.connection is not None:
            await self.connection.history(limit=100)

    async def on_history_view_run_chosen(self, message: HistoryView.RunChosen) -> None:
        rid = None
        if self.connection is not None:
            rid = await self.connection.history(calculation_id=message.calculation_id)
        if rid is None:
            self.notify("Not connected: the run's details cannot be fetched.", markup=False)
            return
        self._details_asked.add(rid)

    def _record(self, seq: int | None, what: str, style: str = "") -> None:
        self._event_log.record(self._wall_clock(), seq, what, style)

    # --- what follows from the state -----------------------------------------------------

    def _run_going(self) -> bool:
        return self.calc is not None and self.calc.state.running

    def compute_can_start(self) -> bool:
        return (
            self.link_status.connected
            and not self._run_going()
            and "start" not in self.pending.values()
        )

    def compute_can_cancel(self) -> bool:
        return (
            self.link_status.connected
            and self._run_going()
            and "cancel" not in self.pending.values()
        )

    def compute_connected(self) -> bool:
        return self.link_status.connected

    def compute_busy(self) -> bool:
        return self.link_status.connected and (self._run_going() or bool(self.pending))

    def compute_ticking(self) -> bool:
        return self.link_status.connected and self._run_going()

    def watch_calc(self) -> None:
        self._tick()

    def watch_ticking(self, ticking: bool) -> None:
        if ticking:
            self._ticker.resume()
        else:
            self._ticker.pause()
        self._tick()

    def watch_can_start(self, can: bool) -> None:
        self._start_button.disabled = not can
        self.call_after_refresh(self._focus_action)

    def watch_can_cancel(self, can: bool) -> None:
        self._cancel_button.disabled = not can
        self.call_after_refresh(self._focus_action)

    def watch_link_status(self, status: LinkStatus) -> None:
        self._reconnect_button.display = not status.connected
        self.call_after_refresh(self._focus_action)

    def _focus_action(self) -> None:
        """Put focus on the button that fits the state, unless the user focused elsewhere."""
        if not self.is_running or self.screen is not self.screen_stack[0]:
            return
        focused = self.focused
        if focused is not None and not isinstance(focused, Button):
            return
        for button in (self._start_button, self._cancel_button, self._reconnect_button):
            if button.display and not button.disabled:
                button.focus()
                return

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # True: available. None: shown dimmed in the footer (it will be again, e.g. once
        # reconnected). False: not shown, because another key fits the state (a narrow footer
        # has no room for keys that cannot apply).
        running = self._run_going()
        match action:
            case "start":
                return True if self.can_start else (False if running else None)
            case "cancel":
                return True if self.can_cancel else (None if running else False)
            case "reconnect":
                return not self.link_status.connected
            case "copy_id":
                return True if self.calc is not None and self.calc.calculation_id else None
        return True

    # --- actions -------------------------------------------------------------------------

    async def action_start(self) -> None:
        """Ask the server to start a calculation."""
        await self._send("start")

    async def action_cancel(self) -> None:
        """Ask the server to cancel the running calculation."""
        await self._send("cancel")

    def action_reconnect(self) -> None:
        """Try to connect now instead of waiting for the backoff."""
        if self.connection is not None:
            self.connection.retry_now()

    def action_show_view(self, view: str) -> None:
        """Switch the views below the progress panel to ``view`` (one of ``VIEWS``)."""
        if view not in VIEWS:
            return
        self._views.active = view
        # the view's own keys (arrows, Enter on a run, scrolling) work at once
        if view == "history":
            self._history_view.table.focus()
        elif view == "output":
            self._output_view.focus()
        elif view == "events":
            self._event_log.focus()

    def action_help(self) -> None:
        """Show the keys and what the states mean."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_copy_id(self) -> None:
        """Copy the shown calculation's id to the clipboard (through the terminal)."""
        calc_id = self.calc.calculation_id if self.calc else None
        if calc_id:
            self.copy_to_clipboard(calc_id)
            self.notify(f"Copied {plain(calc_id, 16)}", markup=False)

    async def action_quit(self) -> None:
        """Quit; when this app serves others or a run, say what quitting does and ask first."""
        if isinstance(self.screen, QuitScreen):
            self.exit()  # asked twice: that is a yes
            return
        lines = self.quit_consequences()
        if not lines:
            self.exit()
            return

        def answered(quit: bool | None) -> None:
            if quit:
                self.exit()

        self.push_screen(QuitScreen(lines, bullet="-" if self.glyphs.ascii else "•"), answered)

    def quit_consequences(self) -> list[str]:
        """What quitting now would do to others; empty unless this app serves the calculation."""
        if not self.serving:
            return []
        calc = self.calc
        running = calc.calculation_id or "" if calc is not None and calc.state.running else None
        return consequences(running and plain(running, 16), max((self.clients or 1) - 1, 0))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        # Quit is one of ours (it asks first when serving); the rest are Textual's.
        for command in super().get_system_commands(screen):
            if command.title != "Quit":
                yield command

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "who":
            self._ask_who()

    def _ask_who(self) -> None:
        """Ask the server who is connected, when the Who view shows it and the server can say."""
        if self.is_running and self._views.active == "who" and self._who.offered:
            self._send_who()

    @work(group="who", exclusive=True)
    async def _send_who(self) -> None:
        if self.connection is not None:
            await self.connection.who()

    async def _send(self, command: str) -> None:
        if not (self.can_start if command == "start" else self.can_cancel):
            return
        rid: str | None = None
        if self.connection is not None:
            if command == "start":
                rid = await self.connection.start()
            else:
                calc_id = self.calc.calculation_id if self.calc else None
                rid = await self.connection.cancel(calc_id)
        if rid is None:
            self.notify("Not connected: nothing was sent.", severity="warning", markup=False)
            return
        self.pending = {**self.pending, rid: command}


def _describe_change(old: State | None, new: State) -> str | None:
    """The event-log line for a new snapshot, or None when nothing a user cares about changed."""
    by = who(new.started_by or "someone")
    if old is None or old.epoch != new.epoch:
        if new.state is Phase.IDLE:
            return "synced: idle"
        return f"synced: {new.state.name}, started by {by}"
    if new.calculation_id != old.calculation_id and new.state is Phase.STARTING:
        return f"started by {by}"
    if new.state is old.state:
        return None
    match new.state:
        case Phase.CANCELED:
            return f"CANCELED by {who(new.ended_by or 'someone')}"
        case Phase.FAILED:
            return f"FAILED: {plain(new.ended_by or 'unknown error', 64)}"
        case _:
            return new.state.name


def make_app(
    url: str | None = None,
    *,
    connect: bool = True,
    backoff: Backoff | None = None,
    name: str | None = None,
    clock: Clock | None = None,
    wall_clock: WallClock = _wall_clock,
    animate: bool = True,
    token: str | None = None,
    ssl: SSLContext | bool = True,
    warning: str | None = None,
    serving: bool = False,
    glyphs: Glyphs = UNICODE,
) -> CalcApp:
    """Build the app for ``url`` (default ``CALC_URL`` or ws://127.0.0.1:8765/ws).

    ``connect=False`` builds it without a network worker, so tests and snapshots can feed it
    messages; ``clock``, ``wall_clock`` and ``animate=False`` freeze what moves. ``token`` and
    ``ssl`` go to the connection (see ``calc_client.link.connect``); ``warning`` is shown as a
    notification when the app starts. ``serving`` says this app runs the server (it shows so,
    and asks before quitting ends others' work); ``glyphs`` picks Unicode or ASCII symbols.
    """
    url = url or default_url()
    connection = (
        Reconnector(url, name=name or default_client_name(), backoff=backoff, token=token, ssl=ssl)
        if connect
        else None
    )
    return CalcApp(
        url,
        connection=connection,
        clock=clock,
        wall_clock=wall_clock,
        animate=animate,
        warning=warning,
        serving=serving,
        glyphs=glyphs,
    )
