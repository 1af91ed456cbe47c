"""SVG snapshots at 80x24, made deterministic.

The app is built by ``fed_app()``: the same factory users run, without the network worker,
with a frozen monotonic clock (so the bar shows exactly the snapshot's position), a fixed
wall clock for the event log, and a spinner that holds its first frame. Each test posts the
exact messages a connection would post and waits until they are on screen.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual.message import Message
from textual.pilot import Pilot

from calc_client.reconnect import Connected, Connecting, Disconnected
from calc_tui.app import CalcApp
from calc_tui.messages import ConnectionReported
from calc_tui.widgets.event_log import EventLog
from protocol import Ack, Phase
from tests.tui.helpers import fed_app, received, state, wait_for, welcome

SnapCompare = Callable[..., bool]

RUN = [
    received(state(Phase.STARTING, 1, stage=0)),
    received(state(Phase.IN_PROGRESS, 2, stage=1, stage_elapsed=0.0)),
]
"""A run started by calc-tui@laptop, now in its second stage."""


def feed(
    *messages: Message, until: Callable[[CalcApp], bool]
) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """A ``run_before`` that posts ``messages`` and waits until ``until(app)`` holds."""

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, CalcApp)
        for message in messages:
            app.post_message(message)
        await wait_for(pilot, lambda: until(app), what="the fed messages")
        await pilot.pause()

    return run_before


def seq_is(seq: int) -> Callable[[CalcApp], bool]:
    return lambda app: app.calc is not None and app.calc.seq == seq


def test_snapshot_reconnecting(snap_compare: SnapCompare) -> None:
    run_before = feed(
        ConnectionReported(Connecting(1)),
        ConnectionReported(Connected(welcome(clients=2))),
        received(state(Phase.STARTING, 1, stage=0)),
        received(state(Phase.IN_PROGRESS, 2, stage=1, stage_elapsed=0.8)),
        ConnectionReported(Disconnected("no close handshake (code 1006)", 0, 0.4)),
        until=lambda app: app.link_status.retry_in == 0.4,
    )
    assert snap_compare(fed_app(), terminal_size=(80, 24), run_before=run_before)


def test_snapshot_idle_and_connected(snap_compare: SnapCompare) -> None:
    run_before = feed(
        ConnectionReported(Connecting(1)),
        ConnectionReported(Connected(welcome(clients=2))),
        received(state(Phase.IDLE, 0)),
        until=lambda app: app.calc is not None and app.link_status.connected,
    )
    assert snap_compare(fed_app(), terminal_size=(80, 24), run_before=run_before)


def test_snapshot_in_progress(snap_compare: SnapCompare) -> None:
    run_before = feed(
        ConnectionReported(Connecting(1)),
        ConnectionReported(Connected(welcome(clients=2))),
        received(state(Phase.IDLE, 0)),
        received(state(Phase.STARTING, 1, stage=0)),
        received(state(Phase.IN_PROGRESS, 2, stage=1, stage_elapsed=0.8)),
        until=seq_is(2),
    )
    assert snap_compare(fed_app(), terminal_size=(80, 24), run_before=run_before)


def test_snapshot_success(snap_compare: SnapCompare) -> None:
    run_before = feed(
        ConnectionReported(Connecting(1)),
        ConnectionReported(Connected(welcome(clients=2))),
        received(state(Phase.IDLE, 0)),
        *RUN,
        received(state(Phase.ALMOST_DONE, 3, stage=2)),
        received(state(Phase.SUCCESS, 4, stage=3)),
        until=seq_is(4),
    )
    assert snap_compare(fed_app(), terminal_size=(80, 24), run_before=run_before)


def test_snapshot_canceled(snap_compare: SnapCompare) -> None:
    run_before = feed(
        ConnectionReported(Connecting(1)),
        ConnectionReported(Connected(welcome(clients=2))),
        received(state(Phase.IDLE, 0)),
        *RUN,
        received(state(Phase.ALMOST_DONE, 3, stage=2)),
        received(
            state(Phase.CANCELED, 4, stage=2, stage_elapsed=1.1, ended_by="calc-tui@desk (c2)")
        ),
        until=seq_is(4),
    )
    assert snap_compare(fed_app(), terminal_size=(80, 24), run_before=run_before)


def test_snapshot_rejection_toast(snap_compare: SnapCompare) -> None:
    run_before = feed(
        ConnectionReported(Connecting(1)),
        ConnectionReported(Connected(welcome(clients=2))),
        received(state(Phase.IDLE, 0)),
        received(state(Phase.STARTING, 1, stage=0, started_by="calc-tui@desk (c2)")),
        received(Ack(request_id="c1-1", accepted=False, reason="already_running", seq=1)),
        until=lambda app: len(app.query_one(EventLog).lines) == 4,  # the refusal is logged
    )
    assert snap_compare(fed_app(), terminal_size=(80, 24), run_before=run_before)
