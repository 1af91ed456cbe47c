"""The History view: snapshots at 80x24 (fed, frozen, in UTC) and the real app against a real
server with a history file, through a restart after SIGKILL."""

from __future__ import annotations

import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.pilot import Pilot

from calc_client.reconnect import Connected, Connecting
from calc_tui.app import CalcApp
from calc_tui.messages import ConnectionReported
from calc_tui.widgets.event_log import EventLog
from calc_tui.widgets.history_view import HistoryView, RunDetails
from protocol import History, OutputLine, Phase, Run, Welcome
from tests.processes import ServerProcess
from tests.tui.helpers import fed_app, is_connected, live_app, received, state, wait_for

SnapCompare = Callable[..., bool]

T0 = 1_750_000_000.0
"""2025-06-15 15:06:40 UTC."""


def run(cid: str, minutes_ago: int, outcome: str | None, **fields: Any) -> Run:
    """A run of three 2-second stages that started ``minutes_ago`` before ``T0``."""
    started = T0 - 60 * minutes_ago
    return Run(
        calculation_id=cid,
        started_by=fields.pop("started_by", "alice@laptop (c1)"),
        started_at=started,
        ended_at=None if outcome is None else started + sum(fields.get("stage_seconds", [6.0])),
        outcome=outcome,
        **fields,
    )


INTERRUPTED = run(
    "9f1c2a7b3d4e",
    1,
    "INTERRUPTED",
    ended_by="server stopped unexpectedly",
    stage_seconds=[2.0, 1.3],
)
RUNS = [
    INTERRUPTED,
    run("5b0e9d2c7a11", 3, "CANCELED", ended_by="bob@desk (c2)", stage_seconds=[2.0, 0.4]),
    run("c4d17e6f0a92", 9, "FAILED", ended_by="server error", stage_seconds=[0.7]),
    run("0a1b2c3d4e5f", 30, "SUCCESS", stage_seconds=[2.0, 2.0, 2.0]),
]
JOB = run(
    "77aa00bb11cc",
    2,
    "FAILED",
    started_by="ci@build (c7)",
    ended_by="exit code 2",
    stage_seconds=[0.1, 41.5],
    command="python examples/train.py --epochs 3",
    exit_code=2,
    last_message="epoch 2/3: loss diverged\x1b[31m",
    output_tail=[
        OutputLine(stream="out", text="epoch 1/3 loss=0.693"),
        OutputLine(stream="out", text="epoch 2/3 loss=nan \x1b[2J\x07"),
        OutputLine(stream="err", text="Traceback (most recent call last):"),
        OutputLine(stream="err", text="FloatingPointError: loss is nan"),
    ],
)


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Start times show in local time: make local time UTC, so snapshots hold anywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def history_welcome(last_run: Run | None = INTERRUPTED) -> Welcome:
    """A welcome from a server that keeps history and whose last run was interrupted."""
    return Welcome(
        protocol=1,
        server="0.1.0",
        epoch="epoch-2",
        client_id="c1",
        clients=1,
        features=["history"],
        last_run=last_run,
    )


def fed_history(*extra: Any) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """A ``run_before``: connect, receive the page of ``RUNS``, open the History view."""

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, CalcApp)
        for message in (
            ConnectionReported(Connecting(1)),
            ConnectionReported(Connected(history_welcome())),
            received(state(Phase.IDLE, 0, epoch="epoch-2")),
            received(History(request_id="c1-1", runs=RUNS, more=False)),
        ):
            app.post_message(message)
        view = app.query_one(HistoryView)
        await wait_for(pilot, lambda: view.table.row_count == len(RUNS), what="the runs")
        await pilot.press("h")
        for step in extra:
            await step(pilot)
        await pilot.pause()

    return run_before


def test_snapshot_history_view(snap_compare: SnapCompare) -> None:
    assert snap_compare(fed_app(), terminal_size=(80, 24), run_before=fed_history())


def test_snapshot_run_details(snap_compare: SnapCompare) -> None:
    async def details(pilot: Pilot[Any]) -> None:
        pilot.app.push_screen(RunDetails(JOB))
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunDetails), what="details")

    assert snap_compare(fed_app(), terminal_size=(80, 24), run_before=fed_history(details))


async def test_a_welcome_naming_an_interrupted_last_run_is_told_once() -> None:
    app = fed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(2):  # a reconnect to the same server says it no more
            app.post_message(ConnectionReported(Connected(history_welcome())))
        app.post_message(received(state(Phase.IDLE, 0, epoch="epoch-2")))
        await wait_for(pilot, lambda: app.calc is not None, what="the state")
        # entries wrap: read the log as one text, spaces collapsed
        log = " ".join(" ".join(strip.text.split()) for strip in app.query_one(EventLog).lines)
        assert log.count("was interrupted") == 1
        assert "the last run, 9f1c2a7b3d4e, was interrupted: server stopped unexpectedly" in log


async def test_the_view_keeps_a_hostile_server_s_text_plain() -> None:
    app = fed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        hostile = run("\x1b[31mred", 1, "SUCCESS\x1b]0;x\x07", started_by="[b]mallory[/b]\x1b[2J")
        app.post_message(received(History(request_id="x", runs=[hostile, hostile], more=False)))
        view = app.query_one(HistoryView)
        await wait_for(pilot, lambda: view.table.row_count == 1, what="the run")
        row = view.table.get_row_at(0)
        assert all(isinstance(cell, Text) for cell in row)  # a str cell would be markup
        cells = [cell.plain for cell in row]
        assert all("\x1b" not in cell and "\x07" not in cell for cell in cells)
        assert cells[4].startswith("[b]mallory[/b]")


async def test_the_real_app_shows_history_updates_it_and_opens_a_run_after_a_restart(
    tmp_path: Path,
) -> None:
    path = tmp_path / "history.sqlite3"
    old = await ServerProcess.start("--history", str(path), "--stage-seconds", "30")
    new: ServerProcess | None = None
    app = live_app(old.url, name="history-tui")
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            view = app.query_one(HistoryView)
            await wait_for(pilot, lambda: is_connected(app), timeout=10, what="connected")
            await pilot.press("s")
            await wait_for(pilot, lambda: app.calc is not None and app.calc.state.running)
            assert app.calc is not None
            first = app.calc.calculation_id
            await pilot.press("c")
            await wait_for(
                pilot, lambda: view.table.row_count == 1, timeout=10, what="the ended run"
            )
            assert str(view.table.get_row_at(0)[3]) == "CANCELED"

            await pilot.press("s")
            await wait_for(
                pilot,
                lambda: (
                    app.calc is not None
                    and app.calc.state.running
                    and app.calc.calculation_id != first
                ),
            )
            interrupted = app.calc.calculation_id
            # the open run is on disk once a history read has seen it
            await app.connection.history()  # type: ignore[union-attr]
            await wait_for(pilot, lambda: view.table.row_count == 2, timeout=10, what="open run")
            old.signal(signal.SIGKILL)
            await old.wait()
            new = await ServerProcess.start("--history", str(path), port=old.port)
            await wait_for(
                pilot,
                lambda: str(view.table.get_row_at(0)[3]) == "INTERRUPTED",
                timeout=15,
                what="the interrupted run in the view",
            )
            assert view.table.coordinate_to_cell_key((0, 0)).row_key.value == interrupted
            lines = [strip.text for strip in app.query_one(EventLog).lines]
            assert any(f"{interrupted}, was interrupted" in line for line in lines)

            await pilot.press("h")
            await pilot.press("enter")
            await wait_for(
                pilot, lambda: isinstance(app.screen, RunDetails), timeout=10, what="details"
            )
            assert isinstance(app.screen, RunDetails)
            assert app.screen.run.calculation_id == interrupted
            assert app.screen.run.ended_by == "server stopped unexpectedly"
    finally:
        await old.stop()
        if new is not None:
            await new.stop()
