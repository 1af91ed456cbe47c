"""The real ``calc`` command, run as a subprocess against a real server on loopback."""

from __future__ import annotations

import asyncio
import getpass
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from calc_local.argtypes import websocket_url
from calc_server.runner import RunningServer
from protocol import (
    PROTOCOL_VERSION,
    Ack,
    Cancel,
    Hello,
    Phase,
    Presence,
    ServerMessage,
    Start,
    State,
    encode,
    server_decoder,
)
from tests.client.calc_process import CALC, CalcProcess, run_calc
from tests.conftest import LONG_STAGE, ServerFactory
from tests.processes import clean_env, free_port
from tests.wsclient import RawClient

Spawn = Callable[..., Awaitable[CalcProcess]]


@pytest.fixture
async def spawn() -> AsyncIterator[Spawn]:
    """Start ``calc`` processes that keep running; any still alive at teardown are killed."""
    started: list[CalcProcess] = []

    async def make(*args: str, interruptible: bool = False) -> CalcProcess:
        calc = await CalcProcess.spawn(*args, interruptible=interruptible)
        started.append(calc)
        return calc

    yield make
    for calc in started:
        await calc.kill()


@pytest.fixture
async def slow_server(server_factory: ServerFactory) -> RunningServer:
    """A server whose calculation outlasts the test, however slowly ``calc`` processes start."""
    return await server_factory(stage_seconds=LONG_STAGE)


async def open_tester(server: RunningServer) -> RawClient:
    """A raw client named "tester", past its welcome and first state."""
    client = await RawClient.open(server.url)
    await client.send(Hello(protocol=PROTOCOL_VERSION, client="tester"))
    await client.expect(State, since=0)
    return client


@pytest.fixture
async def tester(server: RunningServer) -> AsyncIterator[RawClient]:
    """A second client of ``server`` (0.2 s stages, for runs that must finish)."""
    client = await open_tester(server)
    yield client
    await client.close()


@pytest.fixture
async def slow_tester(slow_server: RunningServer) -> AsyncIterator[RawClient]:
    """A second client of ``slow_server`` (for states that must still hold when calc acts)."""
    client = await open_tester(slow_server)
    yield client
    await client.close()


async def start_from(client: RawClient, request_id: str = "tester-start") -> State:
    """Start a calculation from ``client``; return its STARTING state."""
    sent = await client.send(Start(request_id=request_id))
    assert (await client.ack(request_id, since=sent)).accepted
    return await client.expect(State, lambda s: s.state is Phase.STARTING, since=sent)


def assert_one_plain_line(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert len(stderr.splitlines()) == 1, stderr
    assert stderr.startswith("calc: ")


# --- help and usage -------------------------------------------------------------------------


async def test_help_documents_every_exit_code() -> None:
    result = await run_calc("--help")
    assert result.code == 0
    codes = {line.split()[0] for line in result.lines if line[:2] == "  " and line.split()}
    assert {"0", "1", "2", "3", "130"} <= codes
    assert "CANCELED or FAILED" in result.stdout


async def test_usage_error_exits_64_not_2() -> None:
    result = await run_calc("status", "--timeout", "soon")
    assert result.code == 64
    assert "--timeout" in result.stderr
    assert "Traceback" not in result.stderr


# --- status ---------------------------------------------------------------------------------


async def test_status_prints_one_human_line_and_exits_0(server: RunningServer) -> None:
    result = await run_calc("status", "--url", server.url)
    assert result.code == 0, result.stderr
    assert result.lines == ["IDLE, no calculation has run yet"]


async def test_status_of_a_running_calculation_names_stage_id_and_starter(
    slow_server: RunningServer, slow_tester: RawClient
) -> None:
    started = await start_from(slow_tester)
    result = await run_calc("status", "--url", slow_server.url)
    assert result.code == 0, result.stderr
    [line] = result.lines
    assert line.startswith("STARTING, stage 1/3")
    assert "left" in line
    assert f"calculation {started.calculation_id}" in line
    assert "started by tester" in line


async def test_status_json_is_the_protocol_state_message(
    server: RunningServer, tester: RawClient
) -> None:
    result = await run_calc("status", "--json", "--url", server.url)
    assert result.code == 0, result.stderr
    [line] = result.lines
    state = server_decoder.decode(line)
    assert isinstance(state, State)
    assert encode(state).decode() == line
    assert state == tester.states()[-1]


async def test_url_comes_from_calc_url_and_options_go_before_or_after_the_command(
    server: RunningServer,
) -> None:
    results = await asyncio.gather(
        run_calc("status", env=clean_env(CALC_URL=server.url)),
        run_calc("--url", server.url, "--timeout", "30", "status"),
        run_calc("--url", f"ws://127.0.0.1:{free_port()}/ws", "status", "--url", server.url),
    )
    for result in results:
        assert result.code == 0, result.stderr
        assert result.lines == ["IDLE, no calculation has run yet"]


# --- start ----------------------------------------------------------------------------------


async def test_start_is_accepted_exits_0_and_names_the_calculation(
    server: RunningServer, tester: RawClient
) -> None:
    before = tester.mark()
    result = await run_calc("start", "--url", server.url)
    assert result.code == 0, result.stderr
    [line] = result.lines
    seen = await tester.expect(State, lambda s: s.state is Phase.STARTING, since=before)
    assert line == f"started calculation {seen.calculation_id}"
    assert seen.started_by is not None
    assert seen.started_by.startswith(f"{getpass.getuser()}@")


async def test_start_while_running_is_rejected_with_exit_1_and_the_reason(
    slow_server: RunningServer, slow_tester: RawClient
) -> None:
    started = await start_from(slow_tester)
    result = await run_calc("start", "--url", slow_server.url)
    assert result.code == 1
    assert result.stdout == ""
    assert_one_plain_line(result.stderr)
    assert "already_running" in result.stderr
    assert str(started.calculation_id) in result.stderr


async def test_start_wait_follows_to_success_and_exits_0(server: RunningServer) -> None:
    result = await run_calc("start", "--wait", "--url", server.url)
    assert result.code == 0, result.stderr
    first, *states = result.lines
    calculation_id = first.removeprefix("started calculation ")
    assert [line.split(",")[0] for line in states] == [
        "STARTING",
        "IN_PROGRESS",
        "ALMOST_DONE",
        "SUCCESS",
    ]
    assert all(f"calculation {calculation_id}" in line for line in states)


async def test_start_wait_canceled_by_another_client_exits_3(
    slow_server: RunningServer, slow_tester: RawClient, spawn: Spawn
) -> None:
    calc = await spawn("start", "--wait", "--url", slow_server.url)
    first = await calc.line()
    calculation_id = first.removeprefix("started calculation ")
    sent = await slow_tester.send(Cancel(request_id="tester-cancel", calculation_id=calculation_id))
    assert (await slow_tester.ack("tester-cancel", since=sent)).accepted
    result = await calc.finish()
    assert result.code == 3
    assert result.lines[-1].startswith("CANCELED")
    assert_one_plain_line(result.stderr)
    assert f"calculation {calculation_id} was canceled by tester" in result.stderr


async def test_two_starts_at_once_exactly_one_is_accepted(slow_server: RunningServer) -> None:
    results = await asyncio.gather(
        run_calc("start", "--url", slow_server.url), run_calc("start", "--url", slow_server.url)
    )
    assert sorted(r.code for r in results) == [0, 1]
    rejected = next(r for r in results if r.code == 1)
    assert "already_running" in rejected.stderr


# --- cancel ---------------------------------------------------------------------------------


async def test_cancel_of_the_running_calculation_exits_0(
    slow_server: RunningServer, slow_tester: RawClient
) -> None:
    started = await start_from(slow_tester)
    before = slow_tester.mark()
    result = await run_calc("cancel", "--url", slow_server.url)
    assert result.code == 0, result.stderr
    assert result.lines == [f"canceled calculation {started.calculation_id}"]
    canceled = await slow_tester.expect(State, lambda s: s.state is Phase.CANCELED, since=before)
    assert canceled.calculation_id == started.calculation_id
    assert canceled.ended_by is not None
    assert canceled.ended_by.startswith(f"{getpass.getuser()}@")


async def test_cancel_while_idle_is_rejected_with_exit_1(server: RunningServer) -> None:
    result = await run_calc("cancel", "--url", server.url)
    assert result.code == 1
    assert_one_plain_line(result.stderr)
    assert "not_running" in result.stderr


# --- watch ----------------------------------------------------------------------------------


async def test_watch_json_prints_each_state_as_one_flushed_protocol_line(
    server: RunningServer, tester: RawClient, spawn: Spawn
) -> None:
    calc = await spawn("watch", "--json", "--url", server.url)

    async def next_state() -> State:
        line = await calc.line()
        state = server_decoder.decode(line)
        assert isinstance(state, State)
        assert encode(state).decode() == line
        return state

    states = [await next_state()]
    await start_from(tester)
    while states[-1].state is not Phase.SUCCESS:
        states.append(await next_state())
    seqs = [s.seq for s in states]
    assert all(a < b for a, b in itertools.pairwise(seqs))
    assert [s.state for s in states] == [
        Phase.IDLE,
        Phase.STARTING,
        Phase.IN_PROGRESS,
        Phase.ALMOST_DONE,
        Phase.SUCCESS,
    ]


async def test_watch_prints_a_timestamped_human_line_per_change(
    server: RunningServer, tester: RawClient, spawn: Spawn
) -> None:
    calc = await spawn("watch", "--url", server.url)
    assert (await calc.line()).endswith("IDLE, no calculation has run yet")
    started = await start_from(tester)
    lines = [await calc.line() for _ in range(4)]
    assert [line.split(",")[0].split(" ")[1] for line in lines] == [
        "STARTING",
        "IN_PROGRESS",
        "ALMOST_DONE",
        "SUCCESS",
    ]
    assert all(line[2] == ":" and line[5] == ":" for line in lines)
    assert all(f"calculation {started.calculation_id}" in line for line in lines)


async def test_ctrl_c_ends_watch_with_130_and_no_traceback(
    server: RunningServer, spawn: Spawn
) -> None:
    calc = await spawn("watch", "--url", server.url, interruptible=True)
    await calc.line()
    calc.interrupt()
    result = await calc.finish()
    assert result.code == 130
    assert "Traceback" not in result.stderr
    assert "KeyboardInterrupt" not in result.stderr


# --- connection problems ----------------------------------------------------------------------


async def test_closed_port_exits_2_with_one_line() -> None:
    url = f"ws://127.0.0.1:{free_port()}/ws"
    result = await run_calc("status", "--url", url)
    assert result.code == 2
    assert_one_plain_line(result.stderr)
    assert f"cannot connect to {url}" in result.stderr


async def test_silent_server_times_out_with_exit_2() -> None:
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accept the TCP connection, never answer the handshake
        writer.close()

    silent = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    try:
        result = await run_calc("status", "--timeout", "0.3", "--url", f"ws://127.0.0.1:{port}/ws")
    finally:
        silent.close()
        await silent.wait_closed()
    assert result.code == 2
    assert_one_plain_line(result.stderr)
    assert "timed out" in result.stderr


async def test_server_going_away_during_watch_exits_2(server: RunningServer, spawn: Spawn) -> None:
    calc = await spawn("watch", "--url", server.url)
    await calc.line()
    await server.stop()
    result = await calc.finish()
    assert result.code == 2
    assert_one_plain_line(result.stderr)
    assert "connection lost" in result.stderr


async def test_watch_piped_into_head_exits_141_quietly(
    server: RunningServer, tester: RawClient
) -> None:
    script = (
        f'"{CALC}" watch --json --url {server.url} | head -n 1 >/dev/null; '
        'echo "calc=${PIPESTATUS[0]}"'
    )
    before = tester.mark()
    shell = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        script,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(),
    )
    await tester.expect(Presence, lambda p: p.clients == 2, since=before)  # calc is connected
    finished = asyncio.ensure_future(shell.communicate())
    # head takes one line and leaves, at its own pace; calc's first write after that hits
    # EPIPE, so changes keep coming until calc has ended (bounded: a few dozen lines)
    for n in range(10):
        sent = tester.mark()
        await start_from(tester, f"start{n}")
        await tester.expect(State, lambda s: s.state.terminal, since=sent)
        if finished.done():
            break
    async with asyncio.timeout(30):
        out, err = await finished
    assert out.decode() == "calc=141\n"
    assert err.decode() == ""


async def test_json_output_keeps_server_text_exactly_while_human_lines_are_tidied(
    slow_server: RunningServer,
) -> None:
    spaced = await RawClient.open_ready(slow_server.url)
    try:
        await spaced.send(b'{"type":"hello","protocol":1,"client":"two  spaces"}')
        started = await start_from(spaced)
        as_json = await run_calc("status", "--json", "--url", slow_server.url)
        assert as_json.code == 0, as_json.stderr
        [line] = as_json.lines
        shown = server_decoder.decode(line)
        assert isinstance(shown, State)
        assert encode(shown).decode() == line  # the protocol message exactly
        assert shown.started_by == started.started_by
        assert started.started_by is not None
        assert started.started_by.startswith("two  spaces (")
        human = await run_calc("status", "--url", slow_server.url)
        assert "started by two spaces (" in human.stdout
    finally:
        await spaced.close()


async def test_wrong_path_exits_2_at_once_and_names_the_right_one(server: RunningServer) -> None:
    url = server.url.removesuffix("/ws") + "/nope"
    result = await run_calc("status", "--url", url)
    assert result.code == 2
    assert_one_plain_line(result.stderr)
    assert f"cannot connect to {url}: nothing at /nope (HTTP 404); the path is /ws" in (
        result.stderr
    )


# --- --json on start and cancel ---------------------------------------------------------------


def protocol_line(line: str) -> ServerMessage:
    """``line`` decoded, after checking it is the protocol message exactly as encoded."""
    message = server_decoder.decode(line)
    assert encode(message).decode() == line
    return message


async def test_start_json_prints_the_ack_then_the_state_with_the_calculation_id(
    server: RunningServer, tester: RawClient
) -> None:
    mark = tester.mark()
    result = await run_calc("start", "--json", "--url", server.url)
    assert result.code == 0, result.stderr
    ack, state = (protocol_line(line) for line in result.lines)
    assert isinstance(ack, Ack)
    assert ack.accepted
    assert isinstance(state, State)
    assert (state.state, state.seq) == (Phase.STARTING, ack.seq)
    seen = await tester.expect(State, lambda s: s.state is Phase.STARTING, since=mark)
    assert state.calculation_id == seen.calculation_id


async def test_start_wait_json_prints_each_state_as_it_comes_and_exits_by_the_end(
    slow_server: RunningServer, slow_tester: RawClient, spawn: Spawn
) -> None:
    calc = await spawn("start", "--wait", "--json", "--url", slow_server.url)
    ack = protocol_line(await calc.line())
    started = protocol_line(await calc.line())  # flushed while the run is still going
    assert isinstance(ack, Ack)
    assert ack.accepted
    assert isinstance(started, State)
    assert started.state is Phase.STARTING
    await slow_tester.send(Cancel(request_id="stop", calculation_id=started.calculation_id))
    assert (await slow_tester.ack("stop")).accepted
    result = await calc.finish()
    assert result.code == 3
    [canceled] = (protocol_line(line) for line in result.lines)
    assert isinstance(canceled, State)
    assert (canceled.state, canceled.calculation_id) == (Phase.CANCELED, started.calculation_id)


async def test_start_wait_json_follows_to_success(server: RunningServer) -> None:
    result = await run_calc("start", "--wait", "--json", "--url", server.url)
    assert result.code == 0, result.stderr
    ack, *states = (protocol_line(line) for line in result.lines)
    assert isinstance(ack, Ack)
    assert all(isinstance(s, State) for s in states)
    assert [s.state for s in states if isinstance(s, State)] == [
        Phase.STARTING,
        Phase.IN_PROGRESS,
        Phase.ALMOST_DONE,
        Phase.SUCCESS,
    ]


async def test_cancel_json_prints_the_ack_then_the_canceled_state(
    slow_server: RunningServer, slow_tester: RawClient
) -> None:
    started = await start_from(slow_tester)
    result = await run_calc("cancel", "--json", "--url", slow_server.url)
    assert result.code == 0, result.stderr
    ack, state = (protocol_line(line) for line in result.lines)
    assert isinstance(ack, Ack)
    assert ack.accepted
    assert isinstance(state, State)
    assert (state.state, state.seq) == (Phase.CANCELED, ack.seq)
    assert state.calculation_id == started.calculation_id


async def test_a_refusal_in_json_is_the_ack_and_the_state_that_explains_it(
    slow_server: RunningServer, slow_tester: RawClient
) -> None:
    started = await start_from(slow_tester)
    result = await run_calc("start", "--json", "--url", slow_server.url)
    assert result.code == 1
    ack, state = (protocol_line(line) for line in result.lines)
    assert isinstance(ack, Ack)
    assert (ack.accepted, ack.reason) == (False, "already_running")
    assert isinstance(state, State)
    assert state.calculation_id == started.calculation_id
    assert_one_plain_line(result.stderr)
    assert "already_running" in result.stderr


# --- the URL rule (shared with calc-tui) ------------------------------------------------------


async def test_an_http_url_is_taken_as_its_websocket(server: RunningServer) -> None:
    result = await run_calc("status", "--url", "http://" + server.url.removeprefix("ws://"))
    assert result.code == 0, result.stderr
    assert result.lines == ["IDLE, no calculation has run yet"]


async def test_another_scheme_is_a_usage_error_naming_the_ones_taken() -> None:
    result = await run_calc("status", "--url", "ftp://127.0.0.1/ws")
    assert result.code == 64
    assert "must be a ws://, wss://, http:// or https:// URL" in result.stderr


def test_the_url_rule_maps_only_the_scheme() -> None:
    assert websocket_url("https://calc.example:8765/ws?x=1") == "wss://calc.example:8765/ws?x=1"
    assert websocket_url("HTTP://127.0.0.1:9/ws") == "ws://127.0.0.1:9/ws"
    assert websocket_url("wss://h/ws") == "wss://h/ws"
