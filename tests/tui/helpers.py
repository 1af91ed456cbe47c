"""Helpers for calc-tui tests: waiting on conditions, fixed server messages, captured toasts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

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


def live_app(url: str, name: str | None = None) -> CalcApp:
    """The app users run, connected to ``url``, with a fast backoff."""
    return make_app(url, backoff=FAST_BACKOFF, name=name)


def fed_app(clock: Callable[[], float] = lambda: 1000.0) -> CalcApp:
    """The same app without a network worker, frozen in time; tests post it messages."""
    return make_app(URL, connect=False, clock=clock, wall_clock=lambda: "12:00:00", animate=False)


def received(message: ServerMessage) -> ConnectionReported:
    """What the connection worker posts when ``message`` arrives."""
    return ConnectionReported(Received(message))


async def wait_for(
    pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 5.0, what: str = ""
) -> None:
    """Let the app run until ``condition()`` holds; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        await pilot.pause(0.01)


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


def is_connected(app: CalcApp) -> bool:
    """The indicator says connected and a snapshot has been shown."""
    return app.link_status.connected and app.calc is not None
