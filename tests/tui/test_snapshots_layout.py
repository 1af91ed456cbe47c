"""SVG snapshots of issue 17's screens: every size from 40x12 up, offline, who, help, quit,
hosting and ASCII; fed messages, frozen clocks (see test_snapshots.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from textual.pilot import Pilot

from calc_client.reconnect import Connected, Connecting, Disconnected
from calc_tui.app import CalcApp, make_app
from calc_tui.glyphs import glyphs_for
from calc_tui.messages import ConnectionReported
from calc_tui.screens.help_screen import HelpScreen
from calc_tui.screens.quit_screen import QuitScreen
from calc_tui.widgets.who_view import WhoView
from protocol import ConnectedClient, Phase, WhoAnswer
from tests.tui.helpers import URL, fed_app, received, state, welcome
from tests.tui.test_snapshots import SnapCompare, feed, seq_is
from tests.tui.test_who_view import offering_who

IN_PROGRESS = (
    ConnectionReported(Connecting(1)),
    ConnectionReported(Connected(welcome(clients=2))),
    received(state(Phase.IDLE, 0)),
    received(state(Phase.STARTING, 1, stage=0)),
    received(state(Phase.IN_PROGRESS, 2, stage=1, stage_elapsed=0.8)),
)
"""Connected with one other client, a run in its second stage."""


def made(**options: object) -> CalcApp:
    """``fed_app()`` with ``make_app`` options (serving, glyphs)."""
    return make_app(
        URL,
        connect=False,
        clock=lambda: 1000.0,
        wall_clock=lambda: "12:00:00",
        animate=False,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def utc() -> Iterator[None]:
    """Local time is UTC, so ``connected_at`` shows the same on every machine."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TZ", "UTC")
        time.tzset()
        yield
    time.tzset()


@pytest.mark.parametrize(
    "size", [(40, 12), (60, 20), (80, 24), (120, 40)], ids=lambda size: f"{size[0]}x{size[1]}"
)
def test_snapshot_in_progress_at(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(
        fed_app(), terminal_size=size, run_before=feed(*IN_PROGRESS, until=seq_is(2))
    )


@pytest.mark.parametrize("size", [(40, 12), (80, 24)], ids=lambda size: f"{size[0]}x{size[1]}")
def test_snapshot_offline_last_known_state(
    snap_compare: SnapCompare, size: tuple[int, int]
) -> None:
    run_before = feed(
        *IN_PROGRESS,
        ConnectionReported(Disconnected("cannot connect: Connection refused", 3, 5.0)),
        until=lambda app: app.link_status.retry_in == 5.0,
    )
    assert snap_compare(fed_app(), terminal_size=size, run_before=run_before)


def test_snapshot_who_view(snap_compare: SnapCompare, utc: None) -> None:
    answer = WhoAnswer(
        request_id="c1-1",
        clients=[
            ConnectedClient(
                client_id="c1",
                name="alice@laptop",
                connected_at=datetime(2025, 6, 1, 9, 14, 3, tzinfo=UTC),
            ),
            ConnectedClient(
                client_id="c2", name=None, connected_at=datetime(2025, 6, 1, 9, 15, 40, tzinfo=UTC)
            ),
        ],
        total=2,
    )
    welcomed = offering_who(clients=2)

    async def run_before(pilot: Pilot[Any]) -> None:
        await feed(*IN_PROGRESS[:1], welcomed, *IN_PROGRESS[2:], until=seq_is(2))(pilot)
        await pilot.press("w")
        await feed(received(answer), until=lambda app: app.query_one(WhoView).answer is not None)(
            pilot
        )

    assert snap_compare(fed_app(), terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", [(40, 12), (80, 24)], ids=lambda size: f"{size[0]}x{size[1]}")
def test_snapshot_help(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await feed(*IN_PROGRESS, until=seq_is(2))(pilot)
        await pilot.press("question_mark")
        await feed(until=lambda app: isinstance(app.screen, HelpScreen))(pilot)

    assert snap_compare(fed_app(), terminal_size=size, run_before=run_before)


def test_snapshot_hosting_asks_before_quitting(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await feed(*IN_PROGRESS, until=seq_is(2))(pilot)
        await pilot.press("q")
        await feed(until=lambda app: isinstance(app.screen, QuitScreen))(pilot)

    assert snap_compare(made(serving=True), terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", [(40, 12), (80, 24)], ids=lambda size: f"{size[0]}x{size[1]}")
def test_snapshot_hosting(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    run_before = feed(*IN_PROGRESS, until=seq_is(2))
    assert snap_compare(made(serving=True), terminal_size=size, run_before=run_before)


def test_snapshot_ascii_terminal(snap_compare: SnapCompare) -> None:
    run_before = feed(*IN_PROGRESS, until=seq_is(2))
    app = made(glyphs=glyphs_for({"TERM": "linux"}))
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
