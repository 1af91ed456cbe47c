"""However long or wide a client's name, the TUI shows the client id after it."""

from __future__ import annotations

import pytest
from rich.cells import cell_len

from calc_client.reconnect import Connected
from calc_tui.messages import ConnectionReported
from calc_tui.progress import Progress
from calc_tui.status import ConnectionStatus, LinkStatus
from calc_tui.text import who
from calc_tui.widgets.event_log import EventLog
from calc_tui.widgets.progress_panel import ProgressPanel, detail_line, times_line
from protocol import Phase
from tests.tui.helpers import fed_app, received, state, wait_for, welcome

LONG_NAMES = [
    "a" * 64,
    "山" * 64,  # two cells each
    "alice (c1)" + " " * 54,  # a name that pretends to be another client's label
    "x" * 60 + "\x1b[2K",
]


@pytest.mark.parametrize("name", LONG_NAMES, ids=["long", "wide", "spoof", "escape"])
def test_who_keeps_the_client_id_whole(name: str) -> None:
    label = f"{name} (c7)"
    shown = who(label)
    assert shown.endswith(" (c7)")
    assert cell_len(shown) <= 40
    assert "\x1b" not in shown


@pytest.mark.parametrize("name", LONG_NAMES, ids=["long", "wide", "spoof", "escape"])
def test_panel_lines_keep_the_client_id(name: str) -> None:
    started = state(Phase.CANCELED, 3, started_by=f"{name} (c7)", ended_by=f"{name} (c8)")
    assert detail_line(started, LinkStatus(ConnectionStatus.CONNECTED), False).plain.endswith(
        "(c7)"
    )
    assert times_line(started, Progress(0.5, 3.0, None), False).plain.endswith("(c8)")


async def test_event_log_line_shows_the_id_of_a_padded_name_at_80_columns() -> None:
    app = fed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        app.post_message(ConnectionReported(Connected(welcome())))
        app.post_message(received(state(Phase.IDLE, 0)))
        started_by = "alice" + "山" * 59 + " (c9)"  # two cells per character
        app.post_message(received(state(Phase.STARTING, 1, started_by=started_by)))
        log = app.query_one(EventLog)
        await wait_for(pilot, lambda: any("started by" in s.text for s in log.lines))
        [line] = [s.text for s in log.lines if "started by" in s.text]
        width = log.scrollable_content_region.width
        assert cell_len(line.rstrip()) <= width
        assert line.rstrip().endswith("(c9)")
        panel = app.query_one(ProgressPanel)
        assert panel is not None
