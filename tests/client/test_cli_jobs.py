"""The real ``calc`` command against a real server running a job: logs, start --wait, watch."""

from __future__ import annotations

import json
from pathlib import Path

from calc_server.runner import RunningServer
from protocol import Output, Start, State
from tests.client.calc_process import CalcProcess, run_calc
from tests.conftest import ServerFactory
from tests.jobs.recorder import python
from tests.wsclient import RawClient


async def run_to_end(server: RunningServer, raw_clients: list[RawClient]) -> State:
    """Start the job through a raw client and wait for its end."""
    client = await RawClient.open_ready(server.url)
    raw_clients.append(client)
    await client.send(Start(request_id="go"))
    return await client.expect(State, lambda s: s.state.terminal, timeout=30, since=0)


async def test_logs_follow_prints_every_line_once_and_exits_as_the_run_ended(
    server_factory: ServerFactory, raw_clients: list[RawClient], tmp_path: Path
) -> None:
    go_on = tmp_path / "go-on"
    code = (
        "import os, sys, time\n"
        "for i in range(300): print(f'line {i}')\n"
        "print('ready', flush=True)\n"
        f"while not os.path.exists({str(go_on)!r}): time.sleep(0.01)\n"
        "for i in range(300, 320): print(f'line {i}')\n"
        "print('ValueError: it broke', file=sys.stderr)\n"
        "sys.exit(3)\n"
    )
    server = await server_factory(job=tuple(python(code)))
    client = await RawClient.open_ready(server.url)
    raw_clients.append(client)
    await client.send(Start(request_id="go"))
    await client.expect(
        Output, lambda o: any(line.text == "ready" for line in o.lines), timeout=30, since=0
    )
    calc = await CalcProcess.spawn("logs", "-f", "--url", server.url)
    try:
        await calc.line_containing("ready", timeout=30)  # caught up with the kept lines
        go_on.touch()
        result = await calc.finish(timeout=30)
    finally:
        await calc.kill()
    printed = calc.read_lines + result.lines
    assert printed == [
        *(f"line {i}" for i in range(300)),
        "ready",
        *(f"line {i}" for i in range(300, 320)),
        "ValueError: it broke",
    ]
    assert result.code == 3
    assert "failed: exit 3" in result.stderr


async def test_logs_prints_the_kept_lines_from_since_and_as_json(
    server_factory: ServerFactory, raw_clients: list[RawClient]
) -> None:
    server = await server_factory(job=tuple(python("for i in range(1500): print(i)")))
    done = await run_to_end(server, raw_clients)
    everything = await run_calc("logs", "--url", server.url)
    assert everything.code == 0
    assert everything.lines == ["… 500 lines no longer kept", *(str(i) for i in range(500, 1500))]
    tail = await run_calc("logs", "--since", "1495", "--json", "--url", server.url)
    records = [json.loads(line) for line in tail.lines]
    assert records[0] == {
        "calculation_id": done.calculation_id,
        "offset": 1495,
        "stream": "out",
        "text": "1495",
    }
    assert [r["text"] for r in records] == ["1495", "1496", "1497", "1498", "1499"]
    followed = await run_calc("logs", "-f", "--since", "1499", "--url", server.url)
    assert (followed.code, followed.lines) == (0, ["1499"])  # the run is over: SUCCESS


async def test_logs_never_prints_an_escape_sequence_unless_colours_are_asked(
    server_factory: ServerFactory, raw_clients: list[RawClient]
) -> None:
    hostile = "\\x1b]0;owned\\x07\\x1b[2J\\x1b[H\\x1b[31mred\\x1b[0m \\u202eevil\\x07 \\x9b5n"
    server = await server_factory(job=tuple(python(f"print('{hostile}')")))
    await run_to_end(server, raw_clients)
    plain = await run_calc("logs", "--url", server.url)
    assert plain.lines == ["red evil "]
    colours = await run_calc("logs", "--color", "always", "--url", server.url)
    assert colours.lines == ["\x1b[31mred\x1b[0m evil "]
    auto = await run_calc("logs", "--color", "auto", "--url", server.url)  # a pipe: no colours
    assert auto.lines == ["red evil "]


async def test_start_wait_prints_the_jobs_messages_as_they_come(
    server_factory: ServerFactory,
) -> None:
    code = (
        "import json, time\n"
        "for i in range(1, 4):\n"
        "    report = {'calc': {'progress': i / 4, 'message': f'epoch {i}/3'}}\n"
        "    print(json.dumps(report), flush=True)\n"
        "    time.sleep(0.2)\n"
    )
    server = await server_factory(job=tuple(python(code)))
    result = await run_calc("start", "--wait", "--url", server.url, timeout=30)
    assert result.code == 0, result.stderr
    messages = [line.strip() for line in result.lines if line.startswith("  ")]
    assert messages[-1] == "epoch 3/3"
    assert set(messages) <= {"epoch 1/3", "epoch 2/3", "epoch 3/3"}
    assert result.lines[-1].startswith("SUCCESS")


async def test_watch_json_includes_the_jobs_output(server_factory: ServerFactory) -> None:
    server = await server_factory(job=tuple(python("print('from the job')")))
    watch = await CalcProcess.spawn("watch", "--json", "--url", server.url)
    try:
        first = json.loads(await watch.line(timeout=30))
        assert first["type"] == "state"
        started = await run_calc("start", "--url", server.url)
        assert started.code == 0
        line = await watch.line_containing('"type":"output"', timeout=30)
        assert json.loads(line)["lines"] == [{"stream": "out", "text": "from the job"}]
        await watch.line_containing('"SUCCESS"', timeout=30)
    finally:
        await watch.kill()
