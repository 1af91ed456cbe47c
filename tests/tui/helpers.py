"""Helpers for calc-tui tests: waiting on the app's messages, fixed server messages, toasts."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from textual.app import App
from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot

from calc_client.reconnect import Backoff, Received
from calc_tui.app import CalcApp, make_app
from calc_tui.messages import ConnectionReported
from protocol import Phase, ServerMessage, State, Welcome

EPOCH = "epoch-1"
FAST_BACKOFF = Backoff(base=0.05, cap=0.2)
"""Reconnect quickly in tests."""
URL = "ws://127.0.0.1:8765/ws"
"""The URL fed apps show in their header."""
FROZEN_TOAST_SECONDS = 3600.0
"""How long fed apps show a notification that gives no timeout of its own."""


def live_app(url: str, name: str | None = None) -> CalcApp:
    """The app users run, connected to ``url``, with a fast backoff."""
    return make_app(url, backoff=FAST_BACKOFF, name=name)


def fed_app(clock: Callable[[], float] = lambda: 1000.0) -> CalcApp:
    """The same app without a network worker, frozen in time; tests post it messages.

    Its toasts stay until the test ends: on a busy machine a snapshot may be taken more than
    the usual five seconds after the notification.
    """
    app = make_app(URL, connect=False, clock=clock, wall_clock=lambda: "12:00:00", animate=False)
    app.NOTIFICATION_TIMEOUT = FROZEN_TOAST_SECONDS
    return app


def received(message: ServerMessage) -> ConnectionReported:
    """What the connection worker posts when ``message`` arrives."""
    return ConnectionReported(Received(message))


APP_STATE = ("link_status", "calc", "progress", "clients", "busy")
"""The app's reactives: its timers change them without a message."""


class _Waits:
    """The conditions waited for on one app, checked whenever the app may have changed.

    That is right after the app handled a message (Textual's ``message_signal``: messages from
    the connection, key presses, notifications) and whenever its timers set one of its
    reactives (``App.watch``), so a state the app passes through is seen even if the next
    message replaces it at once, and nothing is sampled on a timer of the test's own.
    """

    def __init__(self, app: App[Any]) -> None:
        self.pending: list[tuple[Callable[[], bool], asyncio.Event]] = []
        app.message_signal.subscribe(app, self._handled, immediate=True)
        for name in APP_STATE:
            app.watch(app, name, self._changed, init=False)

    def _handled(self, _: Message) -> None:
        self._changed()

    def _changed(self) -> None:
        for condition, met in self.pending:
            if condition():
                met.set()


_waits: weakref.WeakKeyDictionary[App[Any], _Waits] = weakref.WeakKeyDictionary()


async def wait_for(
    pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 30.0, what: str = ""
) -> None:
    """Let the app run until ``condition()`` holds; fail after ``timeout`` seconds.

    ``condition`` is checked each time the app changes (see ``_Waits``); ``timeout`` only
    bounds a failure.
    """
    if condition():
        return
    app = pilot.app
    waits = _waits.get(app) or _waits.setdefault(app, _Waits(app))
    entry = (condition, asyncio.Event())
    waits.pending.append(entry)
    try:
        async with asyncio.timeout(timeout):
            await entry[1].wait()
    except TimeoutError:
        waited = what or condition
        raise AssertionError(f"timed out after {timeout}s waiting for {waited}") from None
    finally:
        waits.pending.remove(entry)


@dataclass
class Toasts:
    """Every notification an app posted, captured with ``run_test(message_hook=...)``."""

    seen: list[Notify] = field(default_factory=list)

    def __call__(self, message: Message) -> None:
        if isinstance(message, Notify):
            self.seen.append(message)

    @property
    def texts(self) -> list[str]:
        """The notification messages, in order."""
        return [n.notification.message for n in self.seen]

    def titled(self, title: str) -> list[str]:
        """Messages of the notifications with this title."""
        return [n.notification.message for n in self.seen if n.notification.title == title]


def welcome(epoch: str = EPOCH, client_id: str = "c1", clients: int = 1) -> Welcome:
    """A fixed ``welcome``."""
    return Welcome(protocol=1, server="0.1.0", epoch=epoch, client_id=client_id, clients=clients)


def state(
    phase: Phase,
    seq: int,
    *,
    stage: int = 0,
    stage_elapsed: float = 0.0,
    stage_duration: float = 2.0,
    epoch: str = EPOCH,
    calculation_id: str | None = "3f9c2a7d41b0",
    started_by: str | None = "calc-tui@laptop (c1)",
    ended_by: str | None = None,
) -> State:
    """A fixed ``state``; IDLE has no calculation."""
    idle = phase is Phase.IDLE
    return State(
        seq=seq,
        epoch=epoch,
        calculation_id=None if idle else calculation_id,
        state=phase,
        stage=stage,
        stage_elapsed=stage_elapsed,
        stage_duration=stage_duration,
        started_by=None if idle else started_by,
        ended_by=ended_by,
    )


def shown_states(app: CalcApp) -> list[State]:
    """Every snapshot ``app`` shows from now on, in order.

    Recorded by a watcher on ``app.calc`` as each one is set, so a stage that passes before the
    test looks (a key press waits for the app to go idle, which can take a whole stage on a
    busy machine) is still seen. Start it before the action whose effect the test waits for.
    """
    shown: list[State] = []
    app.watch(app, "calc", lambda state: shown.append(state) if state else None, init=False)
    return shown


def is_connected(app: CalcApp) -> bool:
    """The indicator says connected and a snapshot has been shown."""
    return app.link_status.connected and app.calc is not None
