"""The calc-tui application and ``make_app``, the factory the command line and tests share."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import replace
from datetime import datetime
from ssl import SSLContext

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.getters import query_one
from textual.reactive import reactive
from textual.widgets import Button, Footer, Header, TabbedContent, TabPane

from calc_client.reconnect import (
    Backoff,
    Connected,
    Connecting,
    Disconnected,
    Received,
    Reconnector,
)
from calc_local.defaults import client_name, default_url
from calc_tui.messages import ConnectionReported
from calc_tui.progress import IDLE, Progress, progress_at
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

Clock = Callable[[], float]
WallClock = Callable[[], str]


def _wall_clock() -> str:
    return datetime.now().strftime("%H:%M:%S")


class CalcApp(App[None]):
    """Watch and drive the shared calculation; see ``make_app``."""

    TITLE = "calc-tui"
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("s", "start", "Start"),
        Binding("c", "cancel", "Cancel"),
        Binding("r", "reconnect", "Reconnect now"),
        Binding("q", "quit", "Quit"),
        Binding("e", "show_view('events')", "Events"),
        Binding("o", "show_view('output')", "Output"),
        Binding("h", "show_view('history')", "History"),
    ]

    link_status: reactive[LinkStatus] = reactive(STARTING_UP, init=False, repaint=False)
    """The connection, as the indicator shows it."""
    calc: reactive[State | None] = reactive(None, init=False, repaint=False)
    """The last accepted snapshot of the calculation."""
    progress: reactive[Progress] = reactive(IDLE, init=False, repaint=False)
    """``calc`` interpolated to now."""
    clients: reactive[int | None] = reactive(None, init=False, repaint=False)
    """How many clients the server counts."""
    busy: reactive[bool] = reactive(False, init=False, repaint=False)
    """Something is in flight: the calculation runs, or a command awaits its ack."""

    _panel = query_one(ProgressPanel)
    _event_log = query_one(EventLog)
    _history_view = query_one(HistoryView)
    _output_view = query_one(OutputView)
    _views = query_one("#views", TabbedContent)
    _start_button = query_one("#start", Button)
    _cancel_button = query_one("#cancel", Button)

    def __init__(
        self,
        url: str,
        *,
        connection: Reconnector | None,
        clock: Clock | None = None,
        wall_clock: WallClock = _wall_clock,
        animate: bool = True,
        warning: str | None = None,
    ) -> None:
        super().__init__()
        self._warning = warning
        self.url = url
        self.sub_title = plain(url, 60)
        self.connection = connection
        self._clock = clock
        self._wall_clock = wall_clock
        self._animated = animate
        self._epoch: str | None = None
        self._ever_connected = False
        self._pending: dict[str, str] = {}
        self._received_at = 0.0
        self._frozen_at: float | None = None
        self._retry_at: float | None = None
        self._last_failure = ""
        self._details_asked: set[str] = set()  # request ids of runs asked for by Enter
        self._told_interrupted: set[str] = set()

    # --- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="status"):
            yield ConnectionIndicator().data_bind(status=CalcApp.link_status)
            yield PresenceCount().data_bind(clients=CalcApp.clients)
        yield ProgressPanel(animate=self._animated).data_bind(
            state=CalcApp.calc, progress=CalcApp.progress, busy=CalcApp.busy
        )
        with Horizontal(id="buttons"):
            yield Button("Start", id="start", variant="success", action="app.start")
            yield Button("Cancel", id="cancel", variant="error", action="app.cancel")
        with TabbedContent(id="views", initial="events"):
            with TabPane("Events", id="events"):
                yield EventLog()
            with TabPane("Output", id="output"):
                yield OutputView()
            with TabPane("History", id="history"):
                yield HistoryView()
        yield Footer()

    def on_mount(self) -> None:
        self._ticker = self.set_interval(TICK, self._tick, pause=True)
        self._countdown = self.set_interval(COUNTDOWN, self._count_down, pause=True)
        self._sync_controls()
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
        return tuple(self._pending.values())

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
        self._pending.clear()
        self.clients = None  # unknown until the server says again
        link = (
            ConnectionStatus.OFFLINE if message.retry_in is None else ConnectionStatus.RECONNECTING
        )
        self.link_status = LinkStatus(
            link, attempt=message.attempt, retry_in=message.retry_in, reason=message.reason
        )
        self._retry_at = None if message.retry_in is None else self.now() + message.retry_in
        self._count_down()
        reason = plain(message.reason, 80)
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
            interrupted = self.calc is not None and self.calc.state.running
            text = "The server restarted."
            if interrupted:
                text += " The calculation that was running was interrupted."
            self._record(None, text, "bold")
            self.notify(text, title="Server restarted", severity="warning", markup=False)
        self._epoch = welcome.epoch
        self._ever_connected = True
        self._frozen_at = None
        self._last_failure = ""
        self.clients = welcome.clients
        self.link_status = LinkStatus(ConnectionStatus.CONNECTED)
        self._record(None, f"connected as {plain(welcome.client_id, 20)}")
        if welcome.last_run is not None:
            self._tell_if_interrupted(welcome.last_run)
        if "history" in welcome.features:
            self.call_later(self._ask_history)

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
        command = self._pending.pop(ack.request_id, None) or _COMMAND_OF_REASON.get(
            ack.reason or "", "command"
        )
        if not ack.accepted:
            text = describe_rejection(ack.reason)
            self._record(ack.seq, f"{command} refused: {text}", "bold")
            title = f"{command.capitalize()} refused"
            self.notify(text, title=title, severity="warning", markup=False)
        self._sync_controls()

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
        if not self.is_running:
            return
        self._event_log.record(self._wall_clock(), seq, what, style)

    # --- reactions -----------------------------------------------------------------------

    def watch_calc(self) -> None:
        self._sync_controls()

    def watch_link_status(self) -> None:
        self._sync_controls()

    def _sync_controls(self) -> None:
        """Buttons, bindings, spinner, dimming and the redraw timer follow state and link."""
        if not self.is_running:
            return  # shutting down: a last connection message may arrive after the screen left
        connected = self.link_status.connected
        running = self.calc is not None and self.calc.state.running
        self._start_button.disabled = not self._can("start")
        self._cancel_button.disabled = not self._can("cancel")
        self.busy = connected and (running or bool(self._pending))
        self._panel.stale = not connected and self.calc is not None
        if connected and running:
            self._ticker.resume()
        else:
            self._ticker.pause()
        self._tick()
        self.refresh_bindings()

    def _can(self, action: str) -> bool:
        connected = self.link_status.connected
        running = self.calc is not None and self.calc.state.running
        pending = set(self._pending.values())
        if action == "start":
            return connected and not running and "start" not in pending
        if action == "cancel":
            return connected and running and "cancel" not in pending
        if action == "reconnect":
            return not connected
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("start", "cancel", "reconnect"):
            return True if self._can(action) else None
        return True

    # --- actions -------------------------------------------------------------------------

    async def action_start(self) -> None:
        """Ask the server to start a calculation."""
        await self._send("start")

    async def action_cancel(self) -> None:
        """Ask the server to cancel the running calculation."""
        await self._send("cancel")

    def action_show_view(self, view: str) -> None:
        """Show one of the views below the progress panel (``events``, ``output``, ``history``)."""
        self._views.active = view
        # the view's own keys (arrows, Enter on a run, scrolling) work at once
        focused = {"history": self._history_view.table, "output": self._output_view}
        focused.get(view, self._event_log).focus()

    def action_reconnect(self) -> None:
        """Try to connect now instead of waiting for the backoff."""
        if self.connection is not None:
            self.connection.retry_now()

    async def _send(self, command: str) -> None:
        if not self._can(command):
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
        self._pending[rid] = command
        self._sync_controls()


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
            return f"FAILED: {plain(new.ended_by or 'unknown error', 60)}"
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
) -> CalcApp:
    """Build the app for ``url`` (default ``CALC_URL`` or ws://127.0.0.1:8765/ws).

    ``connect=False`` builds it without a network worker, so tests and snapshots can feed it
    messages; ``clock``, ``wall_clock`` and ``animate=False`` freeze what moves. ``token`` and
    ``ssl`` go to the connection (see ``calc_client.link.connect``); ``warning`` is shown as a
    notification when the app starts.
    """
    url = url or default_url()
    connection = (
        Reconnector(url, name=name or client_name(), backoff=backoff, token=token, ssl=ssl)
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
    )
