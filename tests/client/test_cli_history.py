"""``calc history``: the real command against a real server with a history file, and against
a stand-in that sends many runs, hostile text or an error."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from protocol import Cancel, Phase, Run, Start, State
from tests.client.calc_process import run_calc
from tests.conftest import ServerFactory
from tests.history_server import HistoryServer, run
from tests.wsclient import RawClient


async def test_history_prints_an_aligned_table_newest_first_and_json_lines(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = await server_factory(history=tmp_path / "history.sqlite3")
    client = await RawClient.open_ready(server.url)
    await client.send(Start(request_id="s1"))
    first = await client.expect(State, lambda s: s.state is Phase.STARTING and s.seq > 0)
    await client.expect(State, lambda s: s.state is Phase.SUCCESS)
    await client.send(Start(request_id="s2"))
    second = await client.expect(State, lambda s: s.state is Phase.STARTING and s.seq > 4)
    await client.send(Cancel(request_id="c2"))
    await client.expect(State, lambda s: s.state is Phase.CANCELED)
    await client.close()

    shown = await run_calc("history", "--url", server.url)
    assert shown.code == 0, shown.stderr
    header, newer, older = shown.lines
    assert header.split() == [
        "ID",
        "STARTED",
        "DURATION",
        "OUTCOME",
        "STARTED",
        "BY",
        "ENDED",
        "BY",
    ]
    assert newer.startswith(str(second.calculation_id))
    assert older.startswith(str(first.calculation_id))
    assert "CANCELED" in newer
    assert "SUCCESS" in older
    for column in ("STARTED", "DURATION", "OUTCOME"):  # every row starts its cells together
        at = header.index(column)
        assert newer[at - 2 : at] == older[at - 2 : at] == "  "
        assert newer[at] != " "
        assert older[at] != " "

    as_json = await run_calc("history", "--json", "--limit", "1", "--url", server.url)
    assert as_json.code == 0, as_json.stderr
    (line,) = as_json.lines
    decoded = msgspec.json.decode(line, type=Run)
    assert (decoded.calculation_id, decoded.outcome) == (second.calculation_id, "CANCELED")


async def test_history_pages_through_more_runs_than_one_request_may_carry() -> None:
    stand_in = HistoryServer(runs=[run(f"r{i:03}", 1_700_000_000.0 - i) for i in range(150)])
    async with stand_in.serve() as url:
        shown = await run_calc("history", "--json", "--limit", "120", "--url", url)
    assert shown.code == 0, shown.stderr
    assert [json.loads(line)["calculation_id"] for line in shown.lines] == [
        f"r{i:03}" for i in range(120)
    ]
    assert [(q["limit"], q["before"]) for q in stand_in.queries] == [(100, None), (20, "r099")]


async def test_history_text_from_the_server_never_reaches_the_terminal_raw() -> None:
    hostile = run(
        "\x1b]0;pwned\x07abc",
        started_by="\x1b[2J\x1b[31mmallory\u202e",
        outcome="FAILED\x1b[5m",
        ended_by="line\nbreak\r\x9b1m",
    )
    async with HistoryServer(runs=[hostile]).serve() as url:
        shown = await run_calc("history", "--url", url)
        as_json = await run_calc("history", "--json", "--url", url)
    assert shown.code == 0, shown.stderr
    for ch in "\x1b\x07\x9b\u202e\r":
        assert ch not in shown.stdout
    assert "mallory" in shown.stdout
    assert "line break" in shown.stdout
    assert len(shown.lines) == 2
    assert "\x1b" not in as_json.stdout  # JSON escapes it
    assert json.loads(as_json.stdout)["started_by"].startswith("\x1b[2J")


async def test_history_unavailable_exits_1_with_the_reason() -> None:
    async with HistoryServer(error="history_unavailable").serve() as url:
        shown = await run_calc("history", "--url", url)
    assert shown.code == 1
    assert shown.stdout == ""
    assert shown.stderr.startswith("calc: history unavailable (history_unavailable)")


async def test_a_server_without_history_is_told_apart_and_no_runs_is_said() -> None:
    async with HistoryServer(features=[]).serve() as url:
        refused = await run_calc("history", "--url", url)
    assert refused.code == 1
    assert "keeps no run history" in refused.stderr
    async with HistoryServer().serve() as url:
        empty = await run_calc("history", "--url", url)
    assert (empty.code, empty.lines) == (0, ["no runs yet"])
